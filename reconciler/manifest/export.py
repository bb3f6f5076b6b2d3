"""The registry of one environment written as a manifest (`registry export`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import yaml

from registry import names
from registry.entry import Entry
from registry.errors import InvalidEndpoint
from registry.vocabulary import Status

from .model import API_VERSION, KIND


def export_text(environment: str, entries: Sequence[Entry], *, revision: int) -> str:
    """``entries`` as a manifest that validates and plans with no changes.

    The most common namespace and port become the defaults, so that a model
    states only what differs from them.
    """
    namespace = _most_common([e.namespace for e in entries], names.DEFAULT_NAMESPACE)
    port = _most_common([p for p in map(_port, entries) if p], names.DEFAULT_PORT)
    models = []
    for entry in sorted(entries, key=lambda e: e.model_name):
        model: dict[str, Any] = {"name": entry.model_name}
        if entry.namespace != namespace:
            model["namespace"] = entry.namespace
        convention = names.convention_endpoint(entry.model_name, environment, entry.namespace, port)
        if entry.endpoint != convention:
            model["endpoint"] = entry.endpoint
        if entry.status == Status.DISABLED:
            model["enabled"] = False
        models.append(model)
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"environment": environment},
        "spec": {"namespace": namespace, "port": port, "prune": False, "models": models},
    }
    header = (
        f'# Exported from the registry: environment "{environment}" at revision {revision}.\n'
        "# prune is false: entries deleted from this file stay registered until prune is true.\n"
    )
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False)


def _most_common(values: list[Any], default: Any) -> Any:
    """The most frequent value; on a tie ``default`` if among them, else the least."""
    counts = Counter(values).most_common()
    if not counts:
        return default
    top = [value for value, count in counts if count == counts[0][1]]
    return default if default in top else sorted(top)[0]


def _port(entry: Entry) -> int | None:
    try:
        return names.endpoint_port(entry.endpoint)
    except InvalidEndpoint:  # a row written before the endpoint policy; kept explicit
        return None


class _Dumper(yaml.SafeDumper):
    # Indents list items under their key, as people write manifests by hand.
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)
