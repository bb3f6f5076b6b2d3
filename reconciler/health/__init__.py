"""Kubernetes health of a model's deployment, one small rule module per kind.

``Health`` is the value the planner consumes: an enabled model becomes
``ready`` only when its health is Healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
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


_ABSENT = object()
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Malformed(Exception):
    """A field a rule reads has the wrong JSON type; ``args[0]`` names it."""


def section(obj: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    """The object ``obj[key]`` (``where`` names ``obj``: "status."); absent or null is empty,
    anything else but an object is ``Malformed``."""
    return mapping(obj.get(key), where + key)


def mapping(value: Any, name: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object (null: an empty one), else ``Malformed`` naming it."""
    if value is None:
        return _EMPTY
    # type() first: isinstance against an ABC costs more than the rest (10,000 models).
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise Malformed(name)


def read(obj: Mapping[str, Any], key: str, kind: type, default: Any, where: str = "") -> Any:
    """The field ``obj[key]`` (``where`` names ``obj``): ``default`` when absent,
    ``Malformed`` when it is not a ``kind``. A hostile or broken API server (or an
    aggregated API in front of it) may serve anything."""
    value = obj.get(key, _ABSENT)
    if value is _ABSENT:
        return default
    # JSON true is not a count: bool is an int in Python.
    if type(value) is kind or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise Malformed(where + key)


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
