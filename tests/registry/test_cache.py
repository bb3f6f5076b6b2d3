"""The Redis cache and its outbox against real Redis and PostgreSQL."""

import pytest

from registry import store
from registry.cache import Cache, Route, decode, encode, sync_outbox
from registry.entry import cache_key
from registry.errors import CacheUnavailable, InvalidSetting
from tests.helpers import ENV, KEY, free_port, in_threads, register


@pytest.fixture
def down_cache():
    """A cache whose Redis does not exist (nothing listens on the port)."""
    cache = Cache(f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0")
    yield cache
    cache.close()


def outbox(conn):
    return [row[0] for row in conn.execute("SELECT cache_key FROM registry_cache_outbox")]


def test_route_encoding_round_trips_and_rejects_garbage():
    route = Route("m", ENV, "system", "m-development.system.svc.cluster.local:8000", "ready")
    assert decode(encode(route), ENV, "m") == route
    assert decode(encode(None), ENV, "m") is None
    for garbage in (b"not json", b"[1]", b'{"model_name": "m"}'):
        with pytest.raises(ValueError):
            decode(garbage, ENV, "m")


def test_apply_deletes_the_queued_keys_and_empties_the_outbox(conn, cache):
    cache.client.set(KEY, "stale")
    cache.client.set(cache_key(ENV, "other"), "kept")
    result = register(conn, cache=cache)
    assert (result.invalidated, result.pending_invalidations) == (1, 0)
    assert cache.client.get(KEY) is None
    assert cache.client.get(cache_key(ENV, "other")) == b"kept"
    assert outbox(conn) == []


def test_apply_with_redis_down_commits_and_keeps_the_keys_queued(conn, down_cache, cache):
    result = register(conn, cache=down_cache)
    assert result.applied and result.revision == 1
    assert store.get_entry(conn, ENV, "llama-2-7b").status == "ready"
    assert result.pending_invalidations == 1
    assert "is unavailable" in result.cache_error and "s3cret-pass" not in result.cache_error
    assert outbox(conn) == [KEY]
    # The next apply (here one without changes) finishes the job once Redis answers.
    cache.client.set(KEY, "stale")
    result = register(conn, cache=cache)
    assert not result.applied and result.invalidated == 1
    assert cache.client.get(KEY) is None and outbox(conn) == []


def test_sync_with_redis_down_raises_and_leaves_the_outbox(conn, down_cache):
    register(conn)
    with pytest.raises(CacheUnavailable) as raised:
        sync_outbox(conn, down_cache)
    message = str(raised.value)
    assert message.startswith(f"Redis at {down_cache.description} is unavailable (")
    assert down_cache.description.startswith("127.0.0.1:") and down_cache.description.endswith("/0")
    assert "s3cret-pass" not in message and "registry cache sync" in message
    assert outbox(conn) == [KEY]


def test_two_syncs_at_once_split_the_rows_and_remove_exactly_theirs(conn, database_url, cache):
    import psycopg

    for model in ("a", "b", "c"):
        register(conn, model)
    first_id = conn.execute("SELECT min(id) FROM registry_cache_outbox").fetchone()[0]
    for model in ("a", "b", "c"):
        cache.client.set(cache_key(ENV, model), "stale")
    # Another sync is in the middle of handling row "a": it holds that row's lock.
    with psycopg.connect(database_url) as other:
        other.execute("SELECT id FROM registry_cache_outbox WHERE id = %s FOR UPDATE", (first_id,))
        assert sync_outbox(conn, cache) == 2  # does not wait, does not touch "a"
        assert outbox(conn) == [cache_key(ENV, "a")]
        assert cache.client.get(cache_key(ENV, "a")) == b"stale"
        other.rollback()  # that sync failed: its row stays queued
    assert sync_outbox(conn, cache) == 1
    assert outbox(conn) == [] and cache.client.get(cache_key(ENV, "a")) is None


def test_many_concurrent_syncs_delete_every_key_once(conn, database_url, cache):
    from registry import db

    for index in range(30):
        register(conn, f"m{index}")
    synced = []

    def sync():
        with db.connect(db.Target(database_url, "test")) as own:
            synced.append(sync_outbox(own, cache))

    assert in_threads(sync, 4) == []
    assert sum(synced) == 30 and outbox(conn) == []


def test_fill_is_refused_once_an_invalidation_ran_after_the_generation_was_read(cache):
    route = Route("m", ENV, "system", "m-development.system.svc.cluster.local:8000", "ready")
    value, generation = cache.read(ENV, "m")
    assert value is None
    cache.invalidate([cache_key(ENV, "m")])  # a change committed and synced meanwhile
    assert cache.fill_many([(ENV, "m", encode(route), generation, 60)]) == [False]
    assert cache.client.get(cache_key(ENV, "m")) is None
    # A lookup that reads after the invalidation may fill.
    _, generation = cache.read(ENV, "m")
    assert cache.fill_many([(ENV, "m", encode(route), generation, 60)]) == [True]
    assert decode(cache.client.get(cache_key(ENV, "m")), ENV, "m") == route
    assert 0 < cache.client.pttl(cache_key(ENV, "m")) <= 60_000


def test_invalidating_one_environment_leaves_the_others(cache):
    for environment in ("development", "staging"):
        for model in ("a", "b"):
            cache.client.set(cache_key(environment, model), "x")
    assert cache.invalidate_environment("development") == 2
    assert cache.client.keys("model_registry:development:*") == []
    assert len(cache.client.keys("model_registry:staging:*")) == 2


def test_a_url_that_is_not_redis_is_a_clear_error_without_the_password():
    with pytest.raises(InvalidSetting) as raised:
        Cache("http://user:s3cret-pass@example.invalid/0")
    assert "s3cret-pass" not in str(raised.value)
    assert "REDIS_URL" in str(raised.value)


def test_redis_error_types_are_mapped(down_cache):
    with pytest.raises(CacheUnavailable):
        down_cache.read(ENV, "m")
    with pytest.raises(CacheUnavailable):
        down_cache.invalidate([KEY])
