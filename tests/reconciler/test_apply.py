"""The one write path against a real PostgreSQL: transaction, lock, staleness, audit."""

import os
import signal
import subprocess
import threading
import time

import psycopg
import pytest

from reconciler import operator
from reconciler.apply import apply
from registry import db, migrate, store
from registry.errors import LockTimeout, SchemaOutdated, StaleRevision
from tests.conftest import BIN

ENV = "development"


def register(conn, model, **kwargs):
    plan = operator.register(
        store.get_entry(conn, ENV, model),
        store.revision(conn, ENV),
        model_name=model,
        environment=ENV,
        **kwargs,
    )
    return apply(conn, plan, actor="tester")


def state(conn):
    """Everything an apply may touch, for before/after comparisons."""
    return (
        store.list_entries(conn),
        store.revision(conn, ENV),
        conn.execute("SELECT count(*) FROM registry_audit_log").fetchone()[0],
        conn.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0],
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


def test_audit_records_ci_context(conn, monkeypatch):
    monkeypatch.setenv("CI_COMMIT_SHA", "abc123")
    monkeypatch.setenv("CI_PIPELINE_URL", "https://gitlab.example/p/1")
    register(conn, "gpt-neo")
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
    before = state(conn)
    result = register(conn, "a")
    assert not result.applied and state(conn) == before


def test_stale_plan_is_refused_and_writes_nothing(conn):
    stale = operator.register(None, 0, model_name="late", environment=ENV)
    register(conn, "early")
    before = state(conn)
    with pytest.raises(StaleRevision, match="saved plan is stale.*run plan again"):
        apply(conn, stale)
    assert state(conn) == before


def hold_apply_lock(url):
    """A second connection holding the environment's apply lock until closed."""
    holder = psycopg.connect(url)
    store.lock_environment_row(holder, ENV)
    return holder


def test_lock_wait_is_bounded(conn, database_url):
    holder = hold_apply_lock(database_url)
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
    holder = hold_apply_lock(database_url)
    try:
        plan = operator.register(None, 0, model_name="a", environment="production")
        assert apply(conn, plan, lock_timeout=0.3).revision == 1
    finally:
        holder.close()


def test_concurrent_applies_serialize_and_lose_nothing(cli, database_url, conn):
    """Six processes register six models at once; the lock queues them, all land."""
    holder = hold_apply_lock(database_url)  # make sure they really overlap
    procs = [
        subprocess.Popen(
            [str(BIN / "registry"), "register", "-m", f"model-{i}", "-e", ENV],
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    wait_for(lambda: lock_waiters(conn) >= 1)
    holder.close()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert sorted(e.model_name for e in store.list_entries(conn)) == [
        f"model-{i}" for i in range(6)
    ]
    assert store.revision(conn, ENV) == 6
    assert len(store.history(conn)) == 6


def lock_waiters(conn):
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    ).fetchone()[0]


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_sigkill_mid_transaction_leaves_registry_untouched(conn, database_url):
    register(conn, "existing")
    before = state(conn)
    # Hold the audit log: the apply takes its lock and bumps the revision, then blocks
    # on the write statement, i.e. it is inside its transaction when we kill it.
    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE registry_audit_log IN SHARE MODE")
    proc = subprocess.Popen(
        [str(BIN / "registry"), "register", "-m", "victim", "-e", ENV],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
    assert state(conn) == before


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


def test_auto_migrate_off_reports_pending_schema(database_url, monkeypatch):
    monkeypatch.setenv("REGISTRY_AUTO_MIGRATE", "0")
    target = db.Target(url=database_url, description="test")
    with pytest.raises(SchemaOutdated, match="registry db migrate"):
        db.connect(target)
    raw = db.connect(target, prepare_schema=False)
    assert [m.version for m in migrate.migrate(raw)] == [m.version for m in migrate.available()]
    db.connect(target).close()  # now current: no error


def test_concurrent_migrations_do_not_race(database_url):
    target = db.Target(url=database_url, description="test")
    errors = []

    def run():
        try:
            db.connect(target).close()
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
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
