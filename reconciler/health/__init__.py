"""Kubernetes health of a model's deployment, one small rule module per kind.

``Health`` is the value the planner consumes: an enabled model becomes
``ready`` only when its health is Healthy.
"""

from __future__ import annotations

from dataclasses import dataclass

HEALTHY = "Healthy"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
SUSPENDED = "Suspended"
MISSING = "Missing"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Health:
    status: str  # one of the constants above
    reason: str | None = None  # e.g. "0 of 1 updated replicas are available"
    ready_replicas: int | None = None
    replicas: int | None = None

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY
