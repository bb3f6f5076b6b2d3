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

from . import Health, Malformed, malformed, mapping, read, section


def deployment_health(deployment: Mapping[str, Any] | None, *, name: str, namespace: str) -> Health:
    """Health of the Deployment ``name`` given its API object (None: it does not exist).

    Unknown, naming the field, when a field it reads has the wrong JSON type.
    """
    if deployment is None:
        return Health(
            vocabulary.Health.MISSING, f"deployment {name} not found in namespace {namespace}"
        )
    try:
        return _judge(deployment, name)
    except Malformed as error:
        return malformed(error, f"deployment {name} in namespace {namespace}")


def _judge(deployment: Mapping[str, Any], name: str) -> Health:
    spec, status = section(deployment, "spec"), section(deployment, "status")
    wanted = read(spec, "replicas", int, 1, "spec.")  # the API server defaults it to 1
    ready = read(status, "readyReplicas", int, 0, "status.")
    if read(spec, "paused", bool, False, "spec."):
        return Health(vocabulary.Health.SUSPENDED, f"deployment {name} is paused", ready, wanted)
    generation = read(section(deployment, "metadata"), "generation", int, 0, "metadata.")
    if generation > read(status, "observedGeneration", int, 0, "status."):
        return Health(
            vocabulary.Health.PROGRESSING,
            "Waiting for deployment spec update to be observed",
            ready,
            wanted,
        )
    if _progress_deadline_exceeded(read(status, "conditions", list, (), "status.")):
        return Health(
            vocabulary.Health.DEGRADED,
            f"deployment {name} exceeded its progress deadline",
            ready,
            wanted,
        )
    updated = read(status, "updatedReplicas", int, 0, "status.")
    total = read(status, "replicas", int, 0, "status.")
    available = read(status, "availableReplicas", int, 0, "status.")
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


def _progress_deadline_exceeded(conditions: list) -> bool:
    """Whether the Progressing condition says ProgressDeadlineExceeded."""
    for index, item in enumerate(conditions):
        where = f"status.conditions[{index}]"
        condition = mapping(item, where)
        if read(condition, "type", str, None, f"{where}.") == "Progressing":
            return read(condition, "reason", str, None, f"{where}.") == "ProgressDeadlineExceeded"
    return False
