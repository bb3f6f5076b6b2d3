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
