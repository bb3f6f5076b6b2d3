"""Liveness: whether an enabled entry is routable now. Pure: values in, verdicts out.

CI owns desired state (which entries are enabled, where they point); liveness
(``ready`` or ``pending`` for an enabled entry) follows the cluster. Both the
controller's transitions and the apply of a plan made earlier decide it here,
from the Kubernetes health and the ``GET /v1/models`` probe verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from registry.entry import Entry
from registry.store import Liveness
from registry.vocabulary import Health, Status

from .plan import Plan

PROBE_OK = "ok"


def verdict(health: str, health_reason: str | None, probe: str | None) -> str | None:
    """None when routable; else why not (the pending reason)."""
    if health != Health.HEALTHY:
        return health_reason or f"deployment is {health}"
    if probe not in (None, PROBE_OK):
        return probe
    return None


def enabled(status: str, deregistered: bool) -> bool:
    return status in (Status.READY, Status.PENDING) and not deregistered


def gate(plan: Plan, recorded: Mapping[str, Liveness]) -> Plan:
    """``plan`` with each enabled entry's status taken from its latest recorded liveness.

    A plan made earlier (a saved plan, or one waited on) saw the cluster then;
    the controller may have seen it since. The newer of the plan's observation
    and the recorded health wins, with the recorded probe verdict; an entry
    never observed (health Unknown) keeps the plan's status.
    """
    seen = {o.model_name: o for o in plan.observations}
    changes = []
    for change in plan.changes:
        after = change.after
        latest = recorded.get(change.model_name)
        if not enabled(after.status, after.deregistered) or latest is None:
            changes.append(change)
            continue
        health, reason = latest.health, latest.reason
        observation = seen.get(change.model_name)
        if observation is not None and _newer(observation.checked_at, latest.checked_at):
            health, reason = observation.health, observation.reason
        if health == Health.UNKNOWN:
            changes.append(change)
            continue
        why = verdict(health, reason, latest.probe)
        status = Status.PENDING if why else Status.READY
        if status == after.status:
            changes.append(change)
        else:
            changes.append(replace(change, after=after.with_changes(status=status), reason=why))
    return replace(plan, changes=tuple(changes))


def _newer(observed: datetime, recorded: datetime | None) -> bool:
    return recorded is None or observed >= recorded


@dataclass(frozen=True)
class Check:
    """One entry as the registry has it beside what the cluster says now."""

    entry: Entry
    health: str  # live Kubernetes health
    probe: str | None  # 'ok', why not, or None when not probed (or inconclusive)
    expected: str  # the status the cluster calls for (a disabled entry: its own)
    reason: str | None  # why it should be pending

    @property
    def agrees(self) -> bool:
        return self.expected == self.entry.status


def check(entry: Entry, health: str, health_reason: str | None, probe: str | None) -> Check:
    """Compare ``entry``'s registry status with its live health and probe verdict."""
    if not enabled(entry.status, entry.deregistered):
        return Check(entry, health, probe, entry.status, None)
    why = verdict(health, health_reason, probe)
    return Check(entry, health, probe, Status.PENDING if why else Status.READY, why)
