"""The rules a manifest's data must keep: the schema, then the naming rules.

See docs/architecture.md, "Data flow".

The names themselves are judged by ``registry.names``, the one place each naming
rule is written; this module says where in the file a rule was broken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry import names
from registry.errors import InvalidEndpoint, InvalidName

from ..safe_text import excerpt
from . import schema
from .findings import Findings, Severity, bounded
from .model import KIND
from .nodes import DataPath, Document

_TOP_KEYS = {"apiVersion", "kind", "metadata", "spec"}


def check(document: Document, findings: Findings) -> None:
    """Add to ``findings`` every rule the document's data breaks."""
    data = document.data
    if isinstance(data, dict) and data and not data.keys() & _TOP_KEYS:
        # Some other file (an env file, /etc/shadow): findings about its keys would
        # quote it, so one finding says what it is not.
        findings.add(
            (1, 1),
            f"not a {KIND} manifest: it has none of the keys {', '.join(sorted(_TOP_KEYS))} "
            "(its content is not shown)",
            "schema",
        )
        return
    schema.check(document, findings)
    _Names(document, findings).check()


class _Names:
    """The naming rules, each finding placed where the name is written."""

    def __init__(self, document: Document, findings: Findings) -> None:
        self.document = document
        self.findings = findings

    def check(self) -> None:
        environment = self.document.get("metadata", "environment")
        env_ok = isinstance(environment, str) and self._ok(
            names.check_environment, ("metadata", "environment"), environment
        )
        namespace = self.document.get("spec", "namespace")
        if namespace is None:
            namespace = names.DEFAULT_NAMESPACE
        ns_ok = isinstance(namespace, str) and self._ok(
            names.check_namespace, ("spec", "namespace"), namespace
        )
        models = self.document.get("spec", "models")
        if not isinstance(models, list):
            return
        first_line: dict[str, int] = {}
        for i, model in enumerate(models):
            if not isinstance(model, dict):
                continue
            path = ("spec", "models", i)
            name = model.get("name")
            name_ok = isinstance(name, str) and self._ok(
                lambda n: names.check_model_name(n, environment if env_ok else None),
                (*path, "name"),
                name,
            )
            if isinstance(name, str):
                self._listed_once(name, (*path, "name"), first_line)
            model_ns = model.get("namespace", namespace)
            if "namespace" in model and isinstance(model_ns, str):
                ns_ok_here = self._ok(names.check_namespace, (*path, "namespace"), model_ns)
            else:
                ns_ok_here = ns_ok
            endpoint = model.get("endpoint")
            if isinstance(endpoint, str) and endpoint:
                self._endpoint(
                    (*path, "endpoint"),
                    endpoint,
                    name if name_ok and env_ok and ns_ok_here else None,
                    environment,
                    model_ns,
                )

    def _ok(self, check: Callable[[str], Any], path: DataPath, value: str) -> bool:
        try:
            check(value)
        except InvalidName as error:
            self.findings.add(self.document.location(path), bounded(str(error), value), "name")
            return False
        return True

    def _listed_once(self, name: str, path: DataPath, first_line: dict[str, int]) -> None:
        at = self.document.location(path)
        if name not in first_line:
            first_line[name] = at[0]
            return
        self.findings.add(
            at,
            f"model {excerpt(name)} is listed twice, at lines {first_line[name]} and "
            f"{at[0]}: list each model once",
            "duplicate-model",
        )

    def _endpoint(
        self, path: DataPath, endpoint: str, name: str | None, environment: str, namespace: str
    ) -> None:
        """The endpoint policy; with a valid name, the naming convention (a warning)."""
        at = self.document.location(path)
        try:
            if name is None:  # the policy alone: the convention needs a valid name
                names.parse_endpoint(endpoint)
                return
            off_convention = names.convention_warning(endpoint, name, environment, namespace)
        except InvalidEndpoint as error:
            self.findings.add(at, bounded(str(error), endpoint), "endpoint")
            return
        if off_convention:
            self.findings.add(at, off_convention, "endpoint-convention", Severity.WARNING)
