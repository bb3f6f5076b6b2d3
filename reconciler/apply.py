"""Applying a Plan: the one write path of the registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from registry import store
from registry.cache import Cache, pending_invalidations, sync_outbox
from registry.entry import Entry, cache_key
from registry.errors import (
    CacheUnavailable,
    DatabaseUnavailable,
    MassRemovalRefused,
    StaleRevision,
)
from registry.vocabulary import Status

from . import audit_fields, liveness
from .diff import mass_removal
from .plan import Plan

if TYPE_CHECKING:
    import psycopg

DEFAULT_LOCK_TIMEOUT = 30.0
# How long an apply waits for a concurrent `cache sync` holding its outbox rows: longer
# than that sync's Redis calls take to fail on a frozen Redis (about 4 s: 1 s socket
# timeouts on connecting and on the command, retried once), short for a CI job.
OUTBOX_WAIT = 8.0


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    revision: int  # the environment's revision after the apply
    invalidated: int = 0  # cache outbox rows synced to Redis after the commit
    pending_invalidations: int = 0  # left queued because Redis was unavailable
    cache_error: str | None = None  # why they were left queued

    @property
    def applied(self) -> bool:
        return self.plan.has_changes


def audit_context(
    plan: Plan, actor: str | None = None, job: audit_fields.CiJob = audit_fields.NO_JOB
) -> store.AuditContext:
    """Who and what the audit rows record (``actor`` default: the CI job's user, else the
    OS user)."""
    return store.AuditContext(
        actor=audit_fields.actor(actor, job.user_login),
        plan_id=plan.plan_id,
        commit_sha=audit_fields.commit_sha(job.commit_sha),
        pipeline_url=audit_fields.pipeline_url(job.pipeline_url),
    )


def apply(
    conn: psycopg.Connection,
    plan: Plan,
    *,
    actor: str | None = None,
    job: audit_fields.CiJob = audit_fields.NO_JOB,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    cache: Cache | None = None,
) -> ApplyResult:
    """Apply a plan made earlier (a saved or reviewed plan), or raise and write nothing.

    Raises ``StaleRevision`` when the environment moved on since the plan was
    made and ``LockTimeout`` when another apply holds the environment. With
    ``cache``, the router's cache is invalidated after the commit. Each enabled
    entry's status comes from its latest recorded health and probe (``_gated``).
    """
    [result] = apply_plans(
        conn, [plan], actor=actor, job=job, lock_timeout=lock_timeout, cache=cache
    )
    return result


def apply_plans(
    conn: psycopg.Connection,
    plans: Sequence[Plan],
    *,
    actor: str | None = None,
    job: audit_fields.CiJob = audit_fields.NO_JOB,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    cache: Cache | None = None,
    recheck: bool = False,
    allow_mass_removal: bool = False,
    replan: Callable[[Plan], Plan] | None = None,
) -> list[ApplyResult]:
    """Apply plans of several environments all or nothing, in one transaction.

    Every environment's lock is taken (in sorted order) and every check made
    before the first write, so a stale plan for one environment writes nothing
    for any. ``recheck`` (a saved plan, whose file is not trusted): each change
    must still fit the stored rows (a create finds no row, anything else finds
    one), and the mass-removal guard is recomputed from the stored rows.
    ``replan`` (a manifest's plan): under the locks, each plan is replaced by
    ``replan(plan)``, made from the registry as it is now, or it raises.
    """
    environments = [plan.environment for plan in plans]
    with store.environment_lock(conn, environments, lock_timeout=lock_timeout):
        if replan is not None:
            plans = [replan(plan) for plan in plans]
        for plan in plans:
            _check_current(conn, plan, recheck=recheck, allow_mass_removal=allow_mass_removal)
        plans = [_gated(conn, plan) for plan in plans]
        revisions = [_write(conn, plan, actor, job) for plan in plans]
    return [
        _invalidate(conn, ApplyResult(plan, revision), cache)
        for plan, revision in zip(plans, revisions, strict=True)
    ]


def apply_current(
    conn: psycopg.Connection,
    environment: str,
    make_plan: Callable[[], Plan],
    *,
    actor: str | None = None,
    job: audit_fields.CiJob = audit_fields.NO_JOB,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    cache: Cache | None = None,
    liveness_only: bool = False,
) -> ApplyResult:
    """Plan and apply in one transaction under the environment lock.

    Imperative commands use this directly: their plan is made from the state
    seen under the lock, so concurrent commands queue instead of going stale.
    ``liveness_only``: the controller's ready/pending moves, written without a
    revision bump (not desired state: a reviewed saved plan stays applicable).
    """
    with store.environment_lock(conn, environment, lock_timeout=lock_timeout):
        plan = make_plan()
        revision = _write(conn, plan, actor, job, liveness_only=liveness_only)
    return _invalidate(conn, ApplyResult(plan, revision), cache)


def _check_current(
    conn: psycopg.Connection, plan: Plan, *, recheck: bool, allow_mass_removal: bool
) -> None:
    """Refuse ``plan`` (under its lock, before any write) unless it fits the registry now."""
    current = store.require_revision(conn, plan.environment, plan.base_revision)
    if not recheck or not plan.has_changes:
        return
    stored = store.list_entries(conn, environment=plan.environment)
    by_name = {entry.model_name: entry for entry in stored}
    for change in plan.changes:
        row = by_name.get(change.model_name)
        if (change.before is None) == (row is not None):
            raise StaleRevision(
                f"saved plan does not match the registry: it says {change.model_name!r} "
                f"{'is not' if change.before is None else 'is'} registered in "
                f"{plan.environment!r} at revision {current}, and it "
                f"{'is' if change.before is None else 'is not'}. Nothing was written; run "
                "`registry plan --out FILE` again"
            )
        if row is not None and _desired(row) != _desired(change.before):
            # A `before` that is not the stored row would hide what the write changes.
            raise StaleRevision(
                f"saved plan does not match the registry: its `before` of "
                f"{change.model_name!r} in {plan.environment!r} is not the stored entry at "
                f"revision {current}, so what it shows is not what it would change. Nothing "
                "was written; run `registry plan --out FILE` again"
            )
    removal = mass_removal(stored, plan.changes)
    if removal and not allow_mass_removal:
        raise MassRemovalRefused(
            f"refusing to apply: in environment {plan.environment!r}, {removal}. Nothing was "
            "written"
        )


def _desired(entry: Entry) -> dict[str, object]:
    """``entry.spec()`` with ready and pending as one: the controller moves an enabled
    entry between them without a revision bump (liveness, not desired state)."""
    spec = entry.spec()
    spec["status"] = Status.DISABLED if entry.status == Status.DISABLED else "enabled"
    return spec


def _gated(conn: psycopg.Connection, plan: Plan) -> Plan:
    """Each enabled entry's status from its latest recorded health and probe (``liveness.gate``):
    the controller may have seen the cluster after the plan did."""
    names = [change.model_name for change in plan.changes]
    return liveness.gate(plan, store.recorded_liveness(conn, plan.environment, names))


def _write(
    conn: psycopg.Connection,
    plan: Plan,
    actor: str | None,
    job: audit_fields.CiJob,
    *,
    liveness_only: bool = False,
) -> int:
    """Write one plan's changes and observations (under its lock); the new revision."""
    environment = plan.environment
    observed = {
        o.model_name: store.HealthRecord(o.model_name, o.health, o.checked_at, o.probe)
        for o in plan.observations
    }
    # A created entry is written with its observation (one row write instead of an
    # insert then an update); existing rows go through record_health's newer-only rule.
    created = {c.model_name for c in plan.changes if c.before is None}
    if plan.has_changes:
        writes = [
            store.EntryWrite(
                action=change.action,
                entry=change.after,
                observed=observed.get(change.model_name) if change.before is None else None,
                reason=change.reason,
            )
            for change in plan.changes
        ]
        revision = store.write_changes(
            conn,
            environment,
            plan.base_revision,
            writes,
            audit_context(plan, actor, job),
            bump_revision=not liveness_only,
        )
    else:
        revision = store.revision(conn, environment)
    store.record_health(
        conn, environment, [record for name, record in observed.items() if name not in created]
    )
    return revision


def _invalidate(conn: psycopg.Connection, result: ApplyResult, cache: Cache | None) -> ApplyResult:
    """Sync the cache outbox once the change is committed, the change's own keys first.

    Also runs for an apply without changes, so the next apply finishes what an
    earlier Redis outage left queued. Neither Redis down nor the database
    connection lost after the commit fails an apply: the keys stay in the
    outbox and the result says so. Whenever a key of this change is still
    queued afterwards (Redis failed, or a concurrent sync held it past the
    wait), the result carries the count, so the apply never reports a clean
    cache it did not clean.
    """
    if cache is None:
        return result
    own = [cache_key(result.plan.environment, c.model_name) for c in result.plan.changes]
    try:
        synced = sync_outbox(conn, cache, own, wait=OUTBOX_WAIT)
    except CacheUnavailable as error:
        return replace(
            result, pending_invalidations=pending_invalidations(conn), cache_error=error.summary
        )
    except DatabaseUnavailable:
        return replace(result, cache_error="the database connection was lost after the commit")
    held = pending_invalidations(conn, own) if own else 0
    if held:
        return replace(
            result,
            invalidated=synced,
            pending_invalidations=held,
            cache_error=f"another `registry cache sync` held their outbox rows for over "
            f"{OUTBOX_WAIT:g} s (its keys were deleted from Redis, but stay queued)",
        )
    return replace(result, invalidated=synced)
