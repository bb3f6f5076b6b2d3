"""Health of a Deployment, following `kubectl rollout status` and Argo CD.

The order of the checks is theirs: paused first, then (once the controller has
observed the current spec) the progress deadline, then the three rollout
phases. A Deployment scaled to zero is a finished rollout to Argo CD, but it
serves nothing, so here it is Suspended: the registry must not route to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry import vocabulary

from . import Health


def deployment_health(deployment: Mapping[str, Any] | None, *, name: str, namespace: str) -> Health:
    """Health of the Deployment ``name`` given its API object (None: it does not exist)."""
    if deployment is None:
        return Health(
            vocabulary.Health.MISSING, f"deployment {name} not found in namespace {namespace}"
        )
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    wanted = spec.get("replicas", 1)  # the API server defaults a missing count to 1
    ready = status.get("readyReplicas", 0)
    if spec.get("paused"):
        return Health(vocabulary.Health.SUSPENDED, f"deployment {name} is paused", ready, wanted)
    generation = deployment.get("metadata", {}).get("generation", 0)
    if generation > status.get("observedGeneration", 0):
        return Health(
            vocabulary.Health.PROGRESSING,
            "Waiting for deployment spec update to be observed",
            ready,
            wanted,
        )
    progressing = next(
        (c for c in status.get("conditions") or () if c.get("type") == "Progressing"), None
    )
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(
            vocabulary.Health.DEGRADED,
            f"deployment {name} exceeded its progress deadline",
            ready,
            wanted,
        )
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < wanted:
        message = f"{updated} out of {wanted} new replicas have been updated"
    elif total > updated:
        message = f"{total - updated} old replicas are pending termination"
    elif available < updated:
        message = f"{available} of {updated} updated replicas are available"
    elif wanted == 0:
        return Health(
            vocabulary.Health.SUSPENDED, f"deployment {name} is scaled to 0 replicas", ready, wanted
        )
    else:
        return Health(vocabulary.Health.HEALTHY, None, ready, wanted)
    return Health(vocabulary.Health.PROGRESSING, message, ready, wanted)
