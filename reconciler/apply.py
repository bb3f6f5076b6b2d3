"""Applying a Plan: the one write path of the registry."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry import store

from .plan import Plan, _entry_to_dict

if TYPE_CHECKING:
    import psycopg

DEFAULT_LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    revision: int  # the environment's revision after the apply

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
) -> ApplyResult:
    """Apply ``plan`` in one transaction, or raise and write nothing.

    Raises ``StaleRevision`` when the environment moved on since the plan was
    made and ``LockTimeout`` when another apply holds the environment.
    """
    if not plan.has_changes:
        return ApplyResult(plan, store.revision(conn, plan.environment))
    writes = [
        store.EntryWrite(
            action=change.action,
            entry=change.after,
            before=_entry_to_dict(change.before),
            after=_entry_to_dict(change.after),
        )
        for change in plan.changes
    ]
    revision = store.commit_changes(
        conn,
        plan.environment,
        plan.base_revision,
        writes,
        audit_context(plan, actor),
        lock_timeout=lock_timeout,
    )
    return ApplyResult(plan, revision)
