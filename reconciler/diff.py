"""Desired entries + registry rows (+ Kubernetes health) -> Plan. Pure: no I/O.

Keyed by model name within one environment. Classification of each entry's
change (create, update, enable, disable, deregister) is ``plan.change_for``;
this module decides what each entry should become.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from registry import vocabulary
from registry.entry import Entry

from .health import Health
from .plan import Change, Plan, change_for, observations


def plan_environment(
    desired: Sequence[Entry],
    current: Sequence[Entry],
    *,
    environment: str,
    revision: int,
    prune: bool,
    health: Mapping[str, Health] | None = None,
) -> Plan:
    """The plan that makes ``current`` (the registry rows) match ``desired``.

    ``health`` None means Kubernetes was not observed: enabled models become
    ready. Otherwise an enabled model is ready only when its deployment is
    healthy, else pending with the health's reason. Rows the manifest does not
    list are deregistered when ``prune``, else reported as unmanaged.
    """
    by_name = {entry.model_name: entry for entry in current}
    changes: list[Change] = []
    unchanged = 0
    for wanted in desired:
        before = by_name.get(wanted.model_name)
        after, reason = _target(wanted, before, health)
        change = change_for(before, after, reason)
        if change is None:
            unchanged += 1
        else:
            changes.append(change)
    listed = {entry.model_name for entry in desired}
    unmanaged = []
    for entry in current:
        if entry.model_name in listed or entry.deregistered:
            continue
        if prune:
            gone = entry.with_changes(status=vocabulary.Status.DISABLED, deregistered=True)
            changes.append(change_for(entry, gone))
        else:
            unmanaged.append(entry.model_name)
    removal = mass_removal(current, changes)
    return Plan(
        environment=environment,
        base_revision=revision,
        changes=tuple(changes),
        unchanged=unchanged,
        unmanaged=tuple(sorted(unmanaged)),
        mass_removal=removal,
        observations=observations(health),
    )


def _target(
    wanted: Entry, before: Entry | None, health: Mapping[str, Health] | None
) -> tuple[Entry, str | None]:
    """The entry ``wanted`` should become, and why it is pending if it is."""
    status, reason, observed = wanted.status, None, None
    if health is not None and wanted.status == vocabulary.Status.READY:
        seen = health.get(wanted.model_name)
        observed = seen.status if seen else None
        if seen is None or not seen.healthy:
            status = vocabulary.Status.PENDING
            reason = (
                seen.reason if seen else None
            ) or f"deployment is {observed or vocabulary.Health.MISSING}"
    if before is None:
        return wanted.with_changes(status=status, health=observed or wanted.health), reason
    if (
        wanted.namespace == before.namespace
        and wanted.endpoint == before.endpoint
        and status == before.status
        and not before.deregistered
    ):
        # Already what the manifest says: taking over an entry that `register` wrote is
        # not worth a change (export -> plan must be empty); the next real change does it.
        # Observed health alone is bookkeeping that apply records, so the entry stays as is
        # (and the common case builds no new Entry).
        return before, reason
    after = before.with_changes(
        namespace=wanted.namespace,
        endpoint=wanted.endpoint,
        status=status,
        managed_by=wanted.managed_by,
        deregistered=False,
        health=observed or before.health,
    )
    return after, reason


def mass_removal(current: Sequence[Entry], changes: Sequence[Change]) -> str | None:
    """The loud warning when the plan takes away most of the environment's ready entries."""
    ready = {
        e.model_name for e in current if e.status == vocabulary.Status.READY and not e.deregistered
    }
    removed = sorted(
        c.model_name
        for c in changes
        if c.model_name in ready
        and (c.after.status == vocabulary.Status.DISABLED or c.after.deregistered)
    )
    if len(removed) > 1 and 2 * len(removed) > len(ready):
        return (
            f"this plan disables or deregisters {len(removed)} of the {len(ready)} ready "
            f"entries ({', '.join(removed)}): the router would lose most of this environment. "
            "If that is intended, apply with --allow-mass-removal"
        )
    return None
