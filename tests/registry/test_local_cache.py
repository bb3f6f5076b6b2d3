"""The router's in-process tier against real Redis and PostgreSQL: hits that touch
nothing, every kind of invalidation reaching another process, lost tracking, races."""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

import pytest

from registry.cache import Cache, Route, decode
from registry.entry import cache_key
from registry.errors import DatabaseUnavailable, ModelNotFound, ModelNotReady, RegistryError
from registry.local_cache import ABSENT, LocalCache
from registry.lookup import Resolver
from registry.settings import Settings
from tests.helpers import (
    DEADLINE,
    ENDPOINT,
    ENV,
    KEY,
    MODEL,
    POISONED,
    ROOT,
    free_port,
    register,
    set_status,
    synced,
    wait_for,
)
from tests.redis_sentinel import SentinelTopology


def source(resolver, model=MODEL):
    resolver.flush()  # the previous lookup's fill has run
    return resolver.resolve_with_source(model, ENV)[1]


def held_locally(resolver, model=MODEL):
    """Resolve until the answer comes from memory (database, then Redis, then local)."""
    wait_for(lambda: source(resolver, model) == "local", "a local copy")


def commandstats(client) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): stats["calls"]
        for name, stats in client.info("commandstats").items()
    }


def test_a_local_hit_makes_no_redis_call_and_no_query(conn, resolver, cache):
    register(conn)
    held_locally(resolver)
    before, queries = commandstats(cache.client), resolver.stats.database_queries
    # Any query would fail now: only lookups that never reach PostgreSQL still answer.
    conn.execute("ALTER TABLE model_registry_entries RENAME TO hidden_entries")
    try:
        for _ in range(100):
            assert resolver.resolve_with_source(MODEL, ENV) == (
                Route(MODEL, ENV, "system", ENDPOINT, "ready"),
                "local",
            )
    finally:
        conn.execute("ALTER TABLE hidden_entries RENAME TO model_registry_entries")
    after = commandstats(cache.client)
    # The tracking connection's keep-alive PING is its only traffic; INFO is this test's.
    changed = {name for name in after if after[name] != before.get(name)} - {"ping", "info"}
    assert changed == set()
    stats = resolver.stats
    assert stats.database_queries == queries and stats.local_hits >= 100
    assert stats.local_entries == 1


def test_not_found_is_held_locally_and_a_register_drops_it(conn, resolver, cache):
    def answered_locally():
        hits = resolver.stats.local_hits
        resolver.flush()  # the previous lookup's fill has run
        with pytest.raises(ModelNotFound):
            resolver.resolve(MODEL, ENV)
        return resolver.stats.local_hits == hits + 1

    wait_for(lambda: resolver.local_cache_active, "tracking")
    # Database (and a fill), then Redis (held), then memory. The fill's own invalidation
    # push can reach the reader thread after the Redis read has stored its copy, and
    # drops it: on a loaded machine the copy may take a few more reads to hold.
    wait_for(answered_locally, "a locally held not-found")
    synced(register(conn, cache=cache))
    assert resolver.resolve_with_source(MODEL, ENV) == (
        Route(MODEL, ENV, "system", ENDPOINT, "ready"),
        "database",
    )


class Router:
    """A second router replica: tests/router_process.py in its own interpreter."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.router_process", "serve", database_url, redis_url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, *words: str) -> dict:
        self.process.stdin.write(" ".join(words) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def resolve(self) -> dict:
        return self.ask("resolve", MODEL, ENV)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(DEADLINE)


@pytest.fixture
def router(conn, database_url, redis_url):
    router = Router(database_url, redis_url)
    yield router
    router.close()


def invalidate_by_cli(conn, cache, cli):
    result = cli("cache", "invalidate", "-e", ENV, "-m", MODEL, env={"REDIS_URL": cache.url})
    assert result.returncode == 0, result.stderr


INVALIDATIONS = {
    # apply's outbox sync, through the one write path
    "disable": lambda conn, cache, cli: synced(set_status(conn, "disable", cache=cache)),
    "registry cache invalidate": invalidate_by_cli,
    "redis-cli DEL": lambda conn, cache, cli: cache.client.delete(KEY),
    "FLUSHDB": lambda conn, cache, cli: cache.client.flushdb(),
    "FLUSHALL": lambda conn, cache, cli: cache.client.flushall(),
}


@pytest.mark.parametrize("kind", INVALIDATIONS)
def test_every_kind_of_invalidation_reaches_another_process(conn, cache, router, cli, kind):
    register(conn)
    wait_for(lambda: router.ask("active")["active"], "tracking in the other process")
    wait_for(lambda: router.resolve()["source"] == "local", "a local copy in the other process")
    INVALIDATIONS[kind](conn, cache, cli)
    # Redis pushed the invalidation before it answered the command that made it, so the
    # very next lookup (no waiting) no longer answers from memory.
    answer = router.resolve()
    if kind == "disable":
        assert answer["error"] == f"model not ready: {MODEL} (status: disabled)"
    else:
        assert (answer["source"], answer["endpoint"]) == ("database", ENDPOINT)
    assert router.ask("stats")["local_hits"] > 0


def tracker_ids(client) -> list[int]:
    return [c["id"] for c in client.client_list(_type="pubsub")]


def test_a_killed_tracking_connection_empties_the_tier_and_lookups_recover(conn, resolver, cache):
    register(conn)
    held_locally(resolver)
    [tracker] = tracker_ids(cache.client)
    cache.client.client_kill_filter(_id=tracker)
    # Until tracking is back nothing is served from memory, however soon we ask.
    assert source(resolver) != "local"
    wait_for(lambda: resolver.stats.tracking_losses == 1, "the loss to be noticed")
    assert resolver.stats.local_entries == 0
    held_locally(resolver)  # a new tracking connection, and copies again
    assert tracker_ids(cache.client) != [tracker]


def test_redis_restarted_under_a_local_copy(conn, resolver, cache, redis_server):
    if redis_server is None:
        pytest.skip("REDIS_URL points at a Redis this test cannot stop")
    register(conn)
    held_locally(resolver)
    redis_server.stop()
    try:
        # Not from memory (nothing can invalidate it now), not from Redis: from PostgreSQL.
        assert source(resolver) == "database"
        assert resolver.stats.local_entries == 0
    finally:
        redis_server.start()
    held_locally(resolver)
    synced(set_status(conn, "disable", cache=cache))
    with pytest.raises(ModelNotReady):
        resolver.resolve(MODEL, ENV)


def test_the_tier_holds_at_most_its_size_least_recently_used_out(
    conn, database_url, redis_url, cache
):
    models = [f"model-{n}" for n in range(5)]
    for model in models:
        register(conn, model)
    with Resolver(database_url, cache=Cache(redis_url), local_cache_size=3) as resolver:
        wait_for(lambda: resolver.local_cache_active, "tracking")
        for model in models:
            held_locally(resolver, model)
            assert resolver.stats.local_entries <= 3
        assert resolver.stats.local_entries == 3
        assert [source(resolver, m) for m in models[2:]] == ["local"] * 3
        assert source(resolver, models[0]) == "redis"  # evicted; now held again...
        assert source(resolver, models[2]) == "redis"  # ...at the cost of the oldest


def test_size_zero_turns_the_tier_off(conn, database_url, redis_url):
    environ = {"DATABASE_URL": database_url, "REDIS_URL": redis_url}
    register(conn)
    settings = Settings.from_env({**environ, "REGISTRY_LOCAL_CACHE_SIZE": "0"})
    with Resolver.from_settings(settings) as resolver:
        assert [source(resolver) for _ in range(3)] == ["database", "redis", "redis"]
        assert not resolver.local_cache_active


def test_without_redis_there_is_no_local_tier(conn, database_url):
    register(conn)
    with Resolver(database_url) as resolver:
        assert [source(resolver) for _ in range(3)] == ["database"] * 3
        assert not resolver.local_cache_active


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REGISTRY_LOCAL_CACHE_SIZE", "\u0663"),
        ("REGISTRY_LOCAL_CACHE_SIZE", "99999999999999999999"),
        ("REGISTRY_LOCAL_CACHE_SIZE", "-1"),
        ("REGISTRY_LOCAL_CACHE_SIZE", "10000001"),
        ("REGISTRY_LOCAL_CACHE_SIZE", "1_000"),
        ("REGISTRY_CACHE_TTL", "\u0663"),
        ("REGISTRY_CACHE_TTL", "99999999999999999999"),
        ("REGISTRY_CACHE_TTL", "0"),
        ("REGISTRY_CACHE_TTL", "3.5"),
    ],
)
def test_settings_are_ascii_integers_in_range(name, value):
    with pytest.raises(RegistryError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value).startswith(f"invalid {name} {value!r}: use a whole number of ")


class DuringRead(Cache):
    """A real Cache that runs ``meanwhile`` after its read, before the lookup goes on."""

    meanwhile = None

    def read(self, environment, model_name):
        value = super().read(environment, model_name)
        if self.meanwhile is not None:
            meanwhile, self.meanwhile = self.meanwhile, None
            meanwhile()
        return value


@pytest.mark.parametrize("event", ["a push", "tracking lost and back"])
def test_an_invalidation_between_the_redis_read_and_the_store_wins(
    conn, database_url, redis_url, cache, event
):
    register(conn)
    reading = DuringRead(redis_url)
    with Resolver(database_url, cache=reading) as resolver:
        wait_for(lambda: resolver.local_cache_active, "tracking")
        resolver.resolve(MODEL, ENV)
        resolver.flush()
        epoch = resolver._local.epoch

        def change():
            if event == "a push":
                synced(set_status(conn, "disable", cache=cache))
            else:
                [tracker] = tracker_ids(cache.client)
                cache.client.client_kill_filter(_id=tracker)
            wait_for(lambda: resolver._local.epoch != epoch, "the reader to see it")
            wait_for(lambda: resolver.local_cache_active, "tracking")

        reading.meanwhile = change
        # This lookup read the route before the change: it may answer with it...
        assert source(resolver) == "redis"
        # ...but must not keep it.
        assert resolver.stats.local_entries == 0
        if event == "a push":
            with pytest.raises(ModelNotReady):
                resolver.resolve(MODEL, ENV)
        else:
            assert source(resolver) == "redis"


@pytest.fixture
def held_reader(monkeypatch):
    """The tracking thread reads nothing until the returned event is set (set it before
    closing the tier: close() waits for the thread)."""
    released = threading.Event()
    original = LocalCache._read

    def held_read(self):
        assert released.wait(DEADLINE)
        original(self)

    monkeypatch.setattr(LocalCache, "_read", held_read)
    return released


def test_a_push_not_yet_read_already_stops_local_answers(redis_url, cache, held_reader):
    """The reader thread may wait for the GIL or a CPU: the socket is checked on each hit."""
    released = held_reader
    route = Route(MODEL, ENV, "system", ENDPOINT, "ready")
    tier = LocalCache(cache, 10)
    try:
        wait_for(lambda: tier.active, "tracking")
        assert tier.store(KEY, route, tier.epoch)
        assert tier.get(KEY) == route
        cache.client.set(cache_key(ENV, "other-model"), b"{}")  # its push is not read...
        wait_for(lambda: tier.get(KEY) is ABSENT, "the unread push to stop local answers")
        released.set()  # ...until now: the reader drops everything it names, and only that
        wait_for(lambda: tier.get(KEY) is not ABSENT, "the reader to catch up")
        assert tier.get(KEY) == route and len(tier) == 1
    finally:
        released.set()
        tier.close()


def test_an_unread_sentinel_announcement_already_stops_local_answers(tmp_path, held_reader):
    """As a push on the tracking socket: Sentinel's +switch-master is checked on each hit."""
    sentinel = SentinelTopology(tmp_path, stubborn_master=True).start()
    cache = Cache(sentinel.url)
    tier = LocalCache(cache, 10, health_interval=600)  # asking the Sentinels is not what sees
    try:
        wait_for(lambda: tier.active, "tracking")
        assert tier.store(KEY, b"old", tier.epoch)
        assert tier.get(KEY) == b"old"
        # No key changes and the stubborn old master keeps its connections: only the
        # Sentinel's socket has something to read.
        sentinel.failover()
        assert tier.get(KEY) is ABSENT
        held_reader.set()
        wait_for(lambda: sentinel.tracked_by(sentinel.replica), "tracking on the new master")
        assert len(tier) == 0
    finally:
        held_reader.set()
        tier.close()
        cache.close()
        sentinel.stop()


@pytest.mark.parametrize("value", POISONED.values(), ids=POISONED.keys())
def test_a_poisoned_cache_value_is_a_counted_miss_refilled_from_the_database(
    conn, resolver, cache, value
):
    register(conn)
    cache.client.set(KEY, value)
    assert resolver.resolve_with_source(MODEL, ENV) == (
        Route(MODEL, ENV, "system", ENDPOINT, "ready"),
        "database",
    )
    resolver.flush()
    stats = resolver.stats
    assert (stats.cache_invalid, stats.cache_misses, stats.cache_hits) == (1, 1, 0)
    assert decode(cache.client.get(KEY), ENV, MODEL).endpoint == ENDPOINT  # refilled
    with pytest.raises(ValueError):
        decode(value, ENV, MODEL)


def test_metrics_count_each_result_and_the_local_entries(conn, database_url, redis_url, cache):
    from prometheus_client import CollectorRegistry

    metrics = CollectorRegistry()
    register(conn)
    with Resolver(database_url, cache=Cache(redis_url), metrics=metrics) as resolver:
        wait_for(lambda: resolver.local_cache_active, "tracking")
        held_locally(resolver)  # database, then redis (at least once), then local
        assert metrics.get_sample_value("registry_local_cache_entries") == 1
        with pytest.raises(ModelNotFound):
            resolver.resolve("unknown-model", ENV)
        synced(set_status(conn, "disable", cache=cache))
        with pytest.raises(ModelNotReady):
            resolver.resolve(MODEL, ENV)
        conn.execute("ALTER TABLE model_registry_entries RENAME TO hidden_entries")
        try:
            with pytest.raises(DatabaseUnavailable):
                resolver.resolve("uncached-model", ENV)
        finally:
            conn.execute("ALTER TABLE hidden_entries RENAME TO model_registry_entries")
        assert metrics.get_sample_value("registry_local_cache_entries") == 0

    def count(result):
        return metrics.get_sample_value("registry_lookups_total", {"result": result})

    assert (count("database"), count("local_hit")) == (1, 1) and count("redis_hit") >= 1
    assert (count("not_found"), count("not_ready"), count("error")) == (1, 1, 1)


def test_without_metrics_the_lookup_path_never_imports_prometheus_client(
    conn, database_url, redis_url
):
    register(conn)
    program = (
        "import sys\n"
        "from registry.cache import Cache\n"
        "from registry.lookup import Resolver\n"
        f"with Resolver({database_url!r}, cache=Cache({redis_url!r})) as resolver:\n"
        f"    for _ in range(3):\n"
        f"        resolver.resolve({MODEL!r}, {ENV!r})\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    answer = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert answer.stdout == "False\n"


def test_a_database_error_says_whether_the_server_answered(conn, database_url):
    register(conn)
    conn.execute("ALTER TABLE model_registry_entries RENAME TO hidden_entries")
    try:
        with Resolver(database_url) as resolver, pytest.raises(DatabaseUnavailable) as raised:
            resolver.resolve(MODEL, ENV)
    finally:
        conn.execute("ALTER TABLE hidden_entries RENAME TO model_registry_entries")
    assert str(raised.value).startswith(
        "registry lookup failed: the registry database answered with an error (42P01: relation "
        '"model_registry_entries" does not exist'
    )
    down = f"postgresql://registry:s3cret-pass@127.0.0.1:{free_port()}/registry"
    with Resolver(down, pool_timeout=1) as resolver, pytest.raises(DatabaseUnavailable) as raised:
        resolver.resolve(MODEL, ENV)
    assert str(raised.value).startswith(
        "registry lookup failed: the registry database did not answer ("
    )
    assert "s3cret-pass" not in str(raised.value)


# Each state is held this long so that lookups land inside every checked window.
HOLD = 0.08
PROMISE = 0.050


def test_no_replica_serves_a_route_50ms_after_its_disable_returned(
    conn, cache, database_url, redis_url, tmp_path
):
    """4 router processes x 8 threads resolve while this process flips the model 200 times
    through apply (the one write path, outbox synced before it returns). Every answer's
    start and end are recorded on the machine's monotonic clock and compared afterwards."""
    register(conn)
    routers = []
    for number in range(4):
        out = tmp_path / f"router-{number}.json"
        command = ["hammer", database_url, redis_url, MODEL, ENV, "8", str(out)]
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.router_process", *command],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        routers.append((process, out))
    flips = []  # (action, started, returned)
    try:
        for process, _ in routers:
            assert process.stdout.readline() == "ready\n"
        for _ in range(100):
            for action in ("disable", "enable"):
                started = time.monotonic()
                synced(set_status(conn, action, cache=cache))  # asserts nothing is left pending
                flips.append((action, started, time.monotonic()))
                time.sleep(HOLD)
    finally:
        for process, _ in routers:
            process.stdin.close()
        for process, _ in routers:
            process.wait(DEADLINE)
    # A disabled window: from the disable's return + 50 ms to the start of the next enable.
    windows = [
        (flips[i][2] + PROMISE, flips[i + 1][1] if i + 1 < len(flips) else float("inf"))
        for i in range(len(flips))
        if flips[i][0] == "disable"
    ]
    starts = [low for low, _ in windows]
    late, refused_inside, local_hits = [], 0, []
    for _, out in routers:
        local_hits.append(json.loads(out.read_text())["local_hits"])
        for kind in ("served", "refused"):
            times = array("d", Path(f"{out}.{kind}").read_bytes())
            for start, end in zip(times[::2], times[1::2], strict=True):
                index = bisect.bisect_right(starts, start) - 1
                if index >= 0 and end < windows[index][1]:  # wholly inside a disabled window
                    if kind == "served":
                        late.append((start - windows[index][0] + PROMISE, start, end))
                    else:
                        refused_inside += 1
    assert late == []
    assert refused_inside >= len(windows)  # the check had lookups to check
    assert all(hits > 0 for hits in local_hits)  # every replica answered from memory
