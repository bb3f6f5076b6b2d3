"""Applying a Plan: the one write path of the registry."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from registry import store
from registry.cache import Cache, CacheUnavailable, pending_invalidations, sync_outbox
from registry.errors import DatabaseUnavailable

from . import liveness
from .plan import Plan

if TYPE_CHECKING:
    import psycopg

DEFAULT_LOCK_TIMEOUT = 30.0


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


def default_actor() -> str:
    """``--actor`` is passed explicitly; else the GitLab user; else the OS user."""
    return os.environ.get("GITLAB_USER_LOGIN") or getpass.getuser()


def audit_context(plan: Plan, actor: str | None = None) -> store.AuditContext:
    return store.AuditContext(
        actor=actor or default_actor(),
        plan_id=plan.plan_id,
        commit_sha=os.environ.get("CI_COMMIT_SHA"),
        pipeline_url=os.environ.get("CI_PIPELINE_URL"),
    )


def apply(
    conn: psycopg.Connection,
    plan: Plan,
    *,
    actor: str | None = None,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    cache: Cache | None = None,
) -> ApplyResult:
    """Apply a plan made earlier (a saved or reviewed plan), or raise and write nothing.

    Raises ``StaleRevision`` when the environment moved on since the plan was
    made and ``LockTimeout`` when another apply holds the environment. With
    ``cache``, the router's cache is invalidated after the commit. Each enabled
    entry's status comes from its latest recorded health and probe (``liveness.gate``):
    the controller may have seen the cluster after the plan did.
    """

    def gated() -> Plan:
        names = [change.model_name for change in plan.changes]
        return liveness.gate(plan, store.recorded_liveness(conn, plan.environment, names))

    return apply_current(
        conn, plan.environment, gated, actor=actor, lock_timeout=lock_timeout, cache=cache
    )


def apply_current(
    conn: psycopg.Connection,
    environment: str,
    make_plan: Callable[[], Plan],
    *,
    actor: str | None = None,
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
                audit_context(plan, actor),
                bump_revision=not liveness_only,
            )
        else:
            revision = store.revision(conn, environment)
        store.record_health(
            conn,
            environment,
            [record for name, record in observed.items() if name not in created],
        )
    return _invalidate(conn, ApplyResult(plan, revision), cache)


def _invalidate(conn: psycopg.Connection, result: ApplyResult, cache: Cache | None) -> ApplyResult:
    """Sync the cache outbox once the change is committed.

    Also runs for an apply without changes, so the next apply finishes what an
    earlier Redis outage left queued. Neither Redis down nor the database
    connection lost after the commit fails an apply: the keys stay in the
    outbox and the result says so.
    """
    if cache is None:
        return result
    try:
        return replace(result, invalidated=sync_outbox(conn, cache))
    except CacheUnavailable as error:
        return replace(
            result, pending_invalidations=pending_invalidations(conn), cache_error=error.summary
        )
    except DatabaseUnavailable:
        return replace(result, cache_error="the database connection was lost after the commit")
