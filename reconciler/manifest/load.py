"""One manifest's text -> its ``Manifest`` and every finding: nodes, rules, model."""

from __future__ import annotations

from dataclasses import dataclass

from .. import gcpause
from . import nodes, rules
from .findings import Finding, Findings, Location, has_errors, in_file_order
from .model import Manifest, build


@dataclass(frozen=True)
class Loaded:
    """What one file gave: its manifest (None on any error) and its findings."""

    manifest: Manifest | None
    findings: tuple[Finding, ...]
    environment: tuple[str, Location] | None  # the environment it declares, and where


def load_text(
    text: str | bytes, path: str = "<manifest>"
) -> tuple[Manifest | None, tuple[Finding, ...]]:
    """Validate one manifest: the manifest (None when any error) and every finding."""
    loaded = load(text, path)
    return loaded.manifest, in_file_order(loaded.findings)


def load(raw: str | bytes, path: str, *, skip_foreign: bool = False) -> Loaded:
    """``skip_foreign``: a document of another ``kind`` is a warning, not an error."""
    text = nodes.decode(raw, path)
    if isinstance(text, Finding):
        return Loaded(None, (text,), None)
    with gcpause.paused():  # the parse builds a value per node; see gcpause
        return _load(text, path, skip_foreign)


def _load(text: str, path: str, skip_foreign: bool) -> Loaded:
    findings = Findings(path, nodes.line_count(text))
    document = nodes.read(text, findings, skip_foreign=skip_foreign)
    if document is None:
        return Loaded(None, tuple(findings.found), None)
    rules.check(document, findings)
    environment = document.get("metadata", "environment")
    declared = None
    if isinstance(environment, str):
        declared = environment, document.location(("metadata", "environment"))
    if has_errors(findings.found):
        return Loaded(None, tuple(findings.found), declared)
    return Loaded(build(document.data, path, document.location), tuple(findings.found), declared)
