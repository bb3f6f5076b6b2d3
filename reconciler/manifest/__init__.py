"""Manifests: the desired state of one environment, loaded and validated.

See docs/architecture.md, "Data flow".

``nodes`` turns YAML into data within safety limits, ``rules`` (with ``schema``)
judges the data, ``model`` holds the result, ``load`` runs the three on one
text and ``paths`` on the files and folders a command names. Every problem is a
``Finding``; loading never raises on bad input. ``export`` writes the registry
back as a manifest.
"""

from __future__ import annotations

from .export import export_text
from .findings import Finding, Severity
from .load import load_text
from .model import Manifest, ModelSpec
from .nodes import MAX_FILE_BYTES
from .paths import LoadResult, load_paths
from .schema import conforms

__all__ = [
    "MAX_FILE_BYTES",
    "Finding",
    "LoadResult",
    "Manifest",
    "ModelSpec",
    "Severity",
    "conforms",
    "export_text",
    "load_paths",
    "load_text",
]
