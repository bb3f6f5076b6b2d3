"""Health of the Service a model's endpoint points at: it must exist and expose the port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry import vocabulary

from . import Health, Malformed, malformed, mapping, read, section

SERVING = Health(
    vocabulary.Health.HEALTHY
)  # shared: a frozen value, and the answer for nearly every model


def service_health(
    service: Mapping[str, Any] | None, *, name: str, namespace: str, port: int
) -> Health:
    """Healthy when the Service ``name`` exists and exposes ``port``, else Missing with why
    (Unknown, naming the field, when a field it reads has the wrong JSON type)."""
    if service is None:
        return Health(
            vocabulary.Health.MISSING, f"service {name} not found in namespace {namespace}"
        )
    try:
        listed = read(section(service, "spec"), "ports", list, (), "spec.")
        ports = [
            read(mapping(p, f"spec.ports[{index}]"), "port", int, None, f"spec.ports[{index}].")
            for index, p in enumerate(listed)
        ]
    except Malformed as error:
        return malformed(error, f"service {name} in namespace {namespace}")
    if port not in ports:
        exposed = ", ".join(str(p) for p in ports) or "none"
        return Health(
            vocabulary.Health.MISSING,
            f"service {name} in namespace {namespace} does not expose port {port} "
            f"(exposed: {exposed})",
        )
    return SERVING
