"""The manifest's JSON Schema (schemas/manifest.schema.json) and its findings."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

from ..safe_text import excerpt
from .findings import Findings, bounded
from .nodes import DataPath, Document

# Schema errors on these keys are reported by the naming rules instead, whose
# messages explain the rule rather than print a regular expression.
_NAME_KEYS = {"environment", "namespace", "name"}


@functools.cache
def manifest_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath("manifest.schema.json").read_text("utf-8")
    return json.loads(text)


@functools.cache
def validator():
    """jsonschema's validator: slower, but it finds every error and where it is."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema())


@functools.cache
def _conforms() -> Callable[[Any], Any]:
    """A compiled check of the same schema, for the common case of a valid manifest.

    fastjsonschema turns the schema into Python code (about 10x faster than
    jsonschema on 10,000 models), but stops at the first error and knows no
    locations: only when it fails does jsonschema walk the document for every
    finding. The schema uses only keywords whose meaning is the same in every
    draft, so both agree on what is valid (tests/reconciler/manifest/test_load.py).
    """
    import fastjsonschema

    return fastjsonschema.compile(manifest_schema())


def conforms(data: Any) -> bool:
    """Whether ``data`` satisfies the manifest schema (fast; no findings)."""
    from fastjsonschema import JsonSchemaException

    try:
        _conforms()(data)
    except JsonSchemaException:
        return False
    return True


def check(document: Document, findings: Findings) -> None:
    """A finding for each schema error of the document not reported otherwise."""
    if conforms(document.data):
        return
    for error in validator().iter_errors(document.data):
        _report(error, document, findings)


def _report(error, document: Document, findings: Findings) -> None:
    path = tuple(error.absolute_path)
    where = _dotted(path) or "the document"
    if path in document.bad_paths:
        return
    if error.validator in ("pattern", "maxLength") and path and path[-1] in _NAME_KEYS:
        return
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(known)):
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            allowed = f"; allowed: {', '.join(known)}" if not hint else ""
            findings.add(
                document.key_marks.get((*path, key), document.location(path)),
                f"unknown key {excerpt(key)} in {where}{suggestion}{allowed}",
                "unknown-key",
            )
        return
    if error.validator == "required":
        at = document.key_marks.get(path) or document.location(path)
        findings.add(at, f"{where}: {error.message}", "schema")
        return
    if error.validator == "const":
        message = f"must be {error.validator_value!r}, got {excerpt(error.instance)}"
    elif error.validator == "type":
        # No excerpt of a document that is no mapping at all: it is some other file.
        got = _describe(error.instance, show=bool(path))
        message = f"must be of type {error.validator_value}, got {got}"
    else:
        message = bounded(error.message, error.instance)
    findings.add(document.location(path), f"{where}: {message}", "schema")


def _dotted(path: DataPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _describe(value: Any, *, show: bool = True) -> str:
    kind = {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return f"a {kind}"
    if value is None:
        return "null"
    return f"{kind} {excerpt(value)}" if show else f"a {kind} (not shown)"
