"""Kubernetes health of a model's deployment, one small rule module per kind.

``Health`` is the value the planner consumes: an enabled model becomes
``ready`` only when its health is Healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry import vocabulary


@dataclass(frozen=True)
class Health:
    status: str  # a vocabulary.Health
    reason: str | None = None  # e.g. "0 of 1 updated replicas are available"
    ready_replicas: int | None = None
    replicas: int | None = None
    checked_at: datetime | None = None  # when the cluster was asked; None if never

    @property
    def healthy(self) -> bool:
        return self.status == vocabulary.Health.HEALTHY


class Malformed(Exception):
    """A field a rule reads has the wrong JSON type; ``args[0]`` names it."""


def read(obj: Any, path: str, kind: type, default: Any, *, within: str = "") -> Any:
    """The field at the dotted ``path`` of ``obj``: ``default`` when it (or a section above
    it) is absent, ``Malformed`` when it is of the wrong JSON type. A hostile or broken
    API server (or an aggregated API in front of it) may serve anything."""
    value, keys = obj, path.split(".")
    for depth, key in enumerate(keys):
        if value is None and depth:  # a null section reads as an absent one, as before
            return default
        if not isinstance(value, Mapping):
            raise Malformed((within + ".".join(keys[:depth])).rstrip(".") or "object")
        if key not in value:
            return default
        value = value[key]
    # JSON true is not a count: bool is an int in Python.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Malformed(within + path)
    return value


def malformed(error: Malformed, what: str) -> Health:
    """Unknown, for the object ``what`` (e.g. "deployment D in namespace N") whose field
    ``error`` names has the wrong JSON type. The value is not shown: it may be huge."""
    return Health(
        vocabulary.Health.UNKNOWN,
        f"{what} cannot be judged: its {error.args[0]} has the wrong JSON type (the API "
        "server's answer is malformed)",
    )


def model_health(
    deployment: Mapping[str, Any] | None,
    service: Mapping[str, Any] | None,
    *,
    name: str,
    namespace: str,
    port: int,
) -> Health:
    """A model serves only when its Deployment is Healthy and its Service exposes the port.

    The Deployment's verdict comes first (its replica counts are what operators
    look at); a healthy Deployment behind a missing Service is Missing.
    """
    rollout = deployment_health(deployment, name=name, namespace=namespace)
    if not rollout.healthy:
        return rollout
    routing = service_health(service, name=name, namespace=namespace, port=port)
    if not routing.healthy:
        return Health(routing.status, routing.reason, rollout.ready_replicas, rollout.replicas)
    return rollout


# Last: the rule modules import Health from this package. Not inside
# model_health, which runs once per model (an import statement there cost ~1 us a call).
from .deployment import deployment_health  # noqa: E402
from .service import service_health  # noqa: E402
