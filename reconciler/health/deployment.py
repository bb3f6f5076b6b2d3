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


class _Malformed(Exception):
    """A field the rule reads has the wrong JSON type; ``args[0]`` names it."""


def _read(obj: Any, path: str, kind: type, default: Any, *, within: str = "") -> Any:
    """The field at the dotted ``path`` of ``obj``: ``default`` when it (or a section above
    it) is absent, ``_Malformed`` when it is of the wrong JSON type. A hostile or broken
    API server (or an aggregated API in front of it) may serve anything."""
    value, keys = obj, path.split(".")
    for depth, key in enumerate(keys):
        if value is None and depth:  # a null section reads as an absent one, as before
            return default
        if not isinstance(value, Mapping):
            raise _Malformed((within + ".".join(keys[:depth])).rstrip(".") or "object")
        if key not in value:
            return default
        value = value[key]
    # JSON true is not a count: bool is an int in Python.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _Malformed(within + path)
    return value


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
    except _Malformed as malformed:
        return Health(
            vocabulary.Health.UNKNOWN,
            f"deployment {name} in namespace {namespace} cannot be judged: its {malformed.args[0]} "
            "has the wrong JSON type (the API server's answer is malformed)",
        )


def _judge(deployment: Mapping[str, Any], name: str) -> Health:
    wanted = _read(deployment, "spec.replicas", int, 1)  # the API server defaults it to 1
    ready = _read(deployment, "status.readyReplicas", int, 0)
    if _read(deployment, "spec.paused", bool, False):
        return Health(vocabulary.Health.SUSPENDED, f"deployment {name} is paused", ready, wanted)
    generation = _read(deployment, "metadata.generation", int, 0)
    if generation > _read(deployment, "status.observedGeneration", int, 0):
        return Health(
            vocabulary.Health.PROGRESSING,
            "Waiting for deployment spec update to be observed",
            ready,
            wanted,
        )
    if _progress_deadline_exceeded(_read(deployment, "status.conditions", list, [])):
        return Health(
            vocabulary.Health.DEGRADED,
            f"deployment {name} exceeded its progress deadline",
            ready,
            wanted,
        )
    updated = _read(deployment, "status.updatedReplicas", int, 0)
    total = _read(deployment, "status.replicas", int, 0)
    available = _read(deployment, "status.availableReplicas", int, 0)
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
    for index, condition in enumerate(conditions):
        within = f"status.conditions[{index}]."
        if _read(condition, "type", str, None, within=within) == "Progressing":
            return (
                _read(condition, "reason", str, None, within=within) == "ProgressDeadlineExceeded"
            )
    return False
