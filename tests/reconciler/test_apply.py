"""The one write path against a real PostgreSQL: transaction, lock, staleness, audit."""

import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from reconciler import operator
from reconciler.apply import apply
from reconciler.audit_fields import CiJob
from reconciler.plan import Observation, Plan
from registry import db, migrate, store
from registry.errors import LockTimeout, SchemaOutdated, StaleRevision
from tests.helpers import (
    ENV,
    finish,
    hold_environment_lock,
    in_threads,
    lock_waiters,
    ok,
    register,
    register_plan,
    registry_state,
    start_cli,
    wait_for,
)


def test_apply_writes_entry_audit_revision_and_outbox(conn):
    result = register(conn, "llama-2-7b")
    assert result.revision == 1
    [entry] = store.list_entries(conn)
    assert (entry.model_name, entry.status, entry.managed_by) == ("llama-2-7b", "ready", "cli")
    [record] = store.history(conn)
    assert (record.action, record.actor, record.revision) == ("create", "tester", 1)
    assert record.before is None and record.after["endpoint"] == entry.endpoint
    keys = [r[0] for r in conn.execute("SELECT cache_key FROM registry_cache_outbox")]
    assert keys == ["model_registry:development:llama-2-7b"]


def test_audit_records_ci_context(conn):
    register(conn, "gpt-neo", job=CiJob(None, "abc123", "https://gitlab.example/p/1"))
    [record] = store.history(conn)
    assert (record.commit_sha, record.pipeline_url) == ("abc123", "https://gitlab.example/p/1")


def test_one_audit_row_per_change_and_one_revision_per_apply(conn):
    register(conn, "a")
    register(conn, "b")
    plan = operator.set_status(
        store.get_entry(conn, ENV, "a"),
        store.revision(conn, ENV),
        model_name="a",
        environment=ENV,
        action="deregister",
    )
    apply(conn, plan)
    assert store.revision(conn, ENV) == 3
    assert [r.action for r in store.history(conn)] == ["deregister", "create", "create"]
    entry = store.get_entry(conn, ENV, "a")
    assert entry.status == "disabled" and entry.deregistered_at is not None


def test_audit_log_is_append_only(conn):
    register(conn, "a")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("DELETE FROM registry_audit_log")


def test_empty_plan_writes_nothing(conn):
    register(conn, "a")
    before = registry_state(conn)
    result = register(conn, "a")
    assert not result.applied and registry_state(conn) == before


def test_stale_plan_is_refused_and_writes_nothing(conn):
    stale = operator.register(None, 0, model_name="late", environment=ENV)
    register(conn, "early")
    before = registry_state(conn)
    with pytest.raises(StaleRevision, match="saved plan is stale.*run plan again"):
        apply(conn, stale)
    assert registry_state(conn) == before


def test_lock_wait_is_bounded(conn, database_url):
    holder = hold_environment_lock(database_url)
    try:
        plan = operator.register(None, 0, model_name="a", environment=ENV)
        started = time.monotonic()
        with pytest.raises(LockTimeout, match="another apply holds the lock"):
            apply(conn, plan, lock_timeout=0.3)
        assert time.monotonic() - started < 10  # bounded, not the 30 s default
    finally:
        holder.close()
    assert store.list_entries(conn) == []


def test_lock_is_per_environment(conn, database_url):
    holder = hold_environment_lock(database_url)
    try:
        plan = operator.register(None, 0, model_name="a", environment="production")
        assert apply(conn, plan, lock_timeout=0.3).revision == 1
    finally:
        holder.close()


def test_concurrent_applies_serialize_and_lose_nothing(cli, database_url, conn):
    """Six processes register six models at once; the lock queues them, all land."""
    holder = hold_environment_lock(database_url)  # make sure they really overlap
    procs = [
        start_cli("register", "-m", f"model-{i}", "-e", ENV, env={"DATABASE_URL": database_url})
        for i in range(6)
    ]
    wait_for(lambda: lock_waiters(conn) >= 1)
    holder.close()
    for proc in procs:
        ok(finish(proc))
    assert sorted(e.model_name for e in store.list_entries(conn)) == [
        f"model-{i}" for i in range(6)
    ]
    assert store.revision(conn, ENV) == 6
    assert len(store.history(conn)) == 6


def test_sigkill_mid_transaction_leaves_registry_untouched(conn, database_url):
    register(conn, "existing")
    before = registry_state(conn)
    # Hold the audit log: the apply takes its lock and bumps the revision, then blocks
    # on the write statement, i.e. it is inside its transaction when we kill it.
    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE registry_audit_log IN SHARE MODE")
    proc = start_cli("register", "-m", "victim", "-e", ENV, env={"DATABASE_URL": database_url})
    wait_for(
        lambda: (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE '%WITH previous AS%'"
            ).fetchone()[0]
            == 1
        )
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    blocker.close()
    wait_for(
        lambda: (
            conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()[0]
            == 0
        )
    )
    assert registry_state(conn) == before


def test_unreachable_database_names_host_not_password():
    target = db.Target(
        url="postgresql://admin:s3cret-pw@127.0.0.1:1/registry",
        description=db.describe("postgresql://admin:s3cret-pw@127.0.0.1:1/registry"),
    )
    with pytest.raises(db.DatabaseUnavailable) as caught:
        db.connect(target)
    message = str(caught.value)
    assert message.startswith("failed to connect to database (host 127.0.0.1, port 1")
    assert "s3cret-pw" not in message


def test_auto_migrate_off_reports_pending_schema(empty_database_url):
    target = db.Target(url=empty_database_url, description="test", auto_migrate=False)
    with pytest.raises(SchemaOutdated, match="registry db migrate"):
        db.connect(target)
    raw = db.connect(target, prepare_schema=False)
    assert [m.version for m in migrate.migrate(raw)] == [m.version for m in migrate.available()]
    db.connect(target).close()  # now current: no error


def test_concurrent_migrations_do_not_race(empty_database_url):
    target = db.Target(url=empty_database_url, description="test")
    assert in_threads(lambda: db.connect(target).close(), 4) == []
    raw = db.connect(target, prepare_schema=False)
    assert migrate.pending(raw) == []


def test_connection_lost_after_commit_still_reports_the_apply(conn, database_url, redis_url):
    """Committed is committed: a connection lost during the cache sync is no apply error."""
    from registry.cache import Cache

    pid = conn.info.backend_pid

    class KilledDuringSync(Cache):
        def invalidate(self, keys):
            with psycopg.connect(database_url, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            return super().invalidate(keys)

    plan = operator.register(None, 0, model_name="a", environment=ENV)
    result = apply(conn, plan, cache=KilledDuringSync(redis_url))
    assert result.revision == 1 and result.cache_error
    with psycopg.connect(database_url) as check:
        assert check.execute("SELECT count(*) FROM model_registry_entries").fetchone()[0] == 1
        # The key is still queued: `registry cache sync` finishes the job.
        assert check.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0] == 1


# --- observed health: recorded by every apply, as bookkeeping, never a change ---------------

T0 = datetime(2026, 1, 27, 10, 30, tzinfo=UTC)


def test_a_created_entry_gets_the_health_its_plan_observed(conn):
    plan = replace(register_plan(conn), observations=(Observation("llama-2-7b", "Healthy", T0),))

    apply(conn, plan, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Healthy", T0)


def test_health_only_apply_bumps_nothing_and_keeps_saved_plans_valid(conn):
    apply(conn, register_plan(conn), actor="ci")
    before = registry_state(conn)[1:]  # all but the entries, whose health is recorded
    updated_at = store.get_entry(conn, ENV, "llama-2-7b").updated_at
    saved = register_plan(conn)  # a no-change plan someone saved for later
    observed = Plan(
        ENV, before[0], observations=(Observation("llama-2-7b", "Progressing", T0, "0 of 1"),)
    )

    result = apply(conn, observed, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Progressing", T0)
    assert entry.updated_at == updated_at
    assert registry_state(conn)[1:] == before
    assert not result.applied and result.revision == before[0]
    assert apply(conn, saved, actor="ci").revision == before[0]  # not stale


def test_an_older_observation_never_overwrites_a_newer_one(conn):
    apply(conn, register_plan(conn), actor="ci")
    revision = store.revision(conn, ENV)
    newer = Plan(ENV, revision, observations=(Observation("llama-2-7b", "Healthy", T0),))
    older = Plan(
        ENV,
        revision,
        observations=(Observation("llama-2-7b", "Degraded", T0 - timedelta(minutes=5)),),
    )

    apply(conn, newer, actor="ci")
    apply(conn, older, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Healthy", T0)


def test_observations_of_unregistered_models_write_nothing(conn):
    plan = Plan(ENV, 0, observations=(Observation("ghost", "Healthy", T0),))

    apply(conn, plan, actor="ci")

    assert store.list_entries(conn) == []
    assert registry_state(conn)[1:] == (0, 0, 0)


def test_observations_survive_the_saved_plan_round_trip():
    plan = Plan(ENV, 3, observations=(Observation("llama-2-7b", "Missing", T0, "not found"),))
    assert Plan.from_dict(plan.to_dict()).observations == plan.observations
