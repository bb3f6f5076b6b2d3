"""`registry resolve` and `registry cache ...`, run as an operator would."""

import json

import pytest
import redis

from registry import store
from registry.entry import cache_key
from tests.helpers import ENDPOINT, ENV, KEY, MODEL, fails, free_port, ok


@pytest.fixture
def rcli(cli, redis_url):
    """``cli`` with REDIS_URL set to the test's Redis."""

    def run(*args, env=None, **kwargs):
        return cli(*args, env={"REDIS_URL": redis_url, **(env or {})}, **kwargs)

    return run


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def failed(result, message):
    """The one `error:` paragraph is exactly ``message``, and nothing went to stdout."""
    assert fails(result).splitlines()[-1] == f"error: {message}"
    assert result.stdout == ""


def untouched(conn, entries, outbox):
    assert [(e.model_name, e.status) for e in store.list_entries(conn)] == entries
    assert conn.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0] == outbox


def test_resolve_prints_the_endpoint_and_fills_the_cache(conn, rcli, client):
    ok(rcli("register", "-m", MODEL, "-e", ENV))
    result = ok(rcli("resolve", "--model-name", MODEL, "--environment", ENV))
    assert result.stdout == f"{ENDPOINT}\n"
    assert json.loads(client.get(KEY))["endpoint"] == ENDPOINT
    entry = json.loads(ok(rcli("resolve", "-m", MODEL, "-e", ENV, "--format", "json")).stdout)
    assert entry == {
        "model_name": MODEL,
        "environment": ENV,
        "namespace": "system",
        "endpoint": ENDPOINT,
        "status": "ready",
        "source": "redis",  # the first resolve filled the cache
    }
    admin = ok(rcli("registry", "resolve", "-m", MODEL, "-e", ENV, program="admin-cli"))
    assert admin.stdout == f"{ENDPOINT}\n"


def test_resolve_unknown_model_fails_and_writes_nothing(conn, rcli):
    failed(rcli("resolve", "-m", MODEL, "-e", ENV), f"model not found in registry: {MODEL}")
    untouched(conn, [], 0)
    assert store.history(conn) == []


def test_resolve_disabled_model_is_not_ready(conn, rcli):
    ok(rcli("register", "-m", MODEL, "-e", ENV))
    ok(rcli("resolve", "-m", MODEL, "-e", ENV))  # cached while ready
    ok(rcli("disable", "-m", MODEL, "-e", ENV))
    failed(rcli("resolve", "-m", MODEL, "-e", ENV), f"model not ready: {MODEL} (status: disabled)")
    untouched(conn, [(MODEL, "disabled")], 0)


def test_resolve_rejects_invalid_names(conn, rcli):
    result = rcli("resolve", "-m", "Llama_2", "-e", ENV)
    assert result.returncode == 1 and "error: invalid model name 'Llama_2'" in result.stderr
    result = rcli("resolve", "-m", MODEL, "-e", "Prod")
    assert result.returncode == 1 and "error: invalid environment 'Prod'" in result.stderr
    untouched(conn, [], 0)


def test_cache_off_is_said_once_and_everything_still_works(conn, cli):
    result = ok(cli("register", "-m", MODEL, "-e", ENV))
    assert result.stderr.count("REDIS_URL is unset: cache off") == 1
    result = ok(cli("resolve", "-m", MODEL, "-e", ENV))
    assert result.stdout == f"{ENDPOINT}\n"
    assert result.stderr.count("REDIS_URL is unset: cache off") == 1
    untouched(conn, [(MODEL, "ready")], 1)  # kept for the day a cache is configured


def test_redis_stopped_during_an_apply_then_restarted_and_synced(conn, rcli, client, redis_server):
    if redis_server is None:
        pytest.skip("REDIS_URL points at a Redis this test cannot stop")
    ok(rcli("register", "-m", MODEL, "-e", ENV))
    ok(rcli("resolve", "-m", MODEL, "-e", ENV))
    cached = client.get(KEY)
    redis_server.stop()
    try:
        result = ok(rcli("disable", "-m", MODEL, "-e", ENV))
        assert "Applied to environment" in result.stderr
        assert "1 cache invalidation(s) are pending" in result.stderr
        assert "Run `registry cache sync`" in result.stderr
        untouched(conn, [(MODEL, "disabled")], 1)
    finally:
        redis_server.start()
    # This Redis keeps nothing across a restart; a persistent or replicated one
    # would still hold the old entry, so put it back as it was.
    client.set(KEY, cached)
    assert ok(rcli("resolve", "-m", MODEL, "-e", ENV)).stdout == f"{ENDPOINT}\n"
    result = ok(rcli("cache", "sync"))
    assert result.stdout == "Synced 1 cache invalidation(s); 0 pending.\n"
    failed(rcli("resolve", "-m", MODEL, "-e", ENV), f"model not ready: {MODEL} (status: disabled)")
    untouched(conn, [(MODEL, "disabled")], 0)


def test_resolve_with_redis_down_answers_from_the_database_and_says_so(conn, rcli):
    ok(rcli("register", "-m", MODEL, "-e", ENV, env={"REDIS_URL": ""}))
    port = free_port()
    result = ok(
        rcli("resolve", "-m", MODEL, "-e", ENV, env={"REDIS_URL": f"redis://127.0.0.1:{port}"})
    )
    assert result.stdout == f"{ENDPOINT}\n"
    assert (
        f"warning: Redis at 127.0.0.1:{port}/0 did not answer: the database answered instead"
        in result.stderr
    )


def test_cache_sync_with_redis_down_fails_without_the_password(conn, rcli):
    ok(rcli("register", "-m", MODEL, "-e", ENV, env={"REDIS_URL": ""}))
    port = free_port()
    result = rcli("cache", "sync", env={"REDIS_URL": f"redis://:s3cret-pass@127.0.0.1:{port}/0"})
    assert result.returncode == 1
    assert f"error: Redis at 127.0.0.1:{port}/0 is unavailable (" in result.stderr
    assert "`registry cache sync`" in result.stderr
    assert "s3cret-pass" not in result.stderr + result.stdout
    untouched(conn, [(MODEL, "ready")], 1)


@pytest.mark.parametrize("command", [["sync"], ["invalidate", "-e", ENV]])
def test_cache_commands_need_redis_url(conn, cli, command):
    ok(cli("register", "-m", MODEL, "-e", ENV))
    failed(
        cli("cache", *command),
        f"`registry cache {command[0]}` needs the router's Redis, but REDIS_URL is unset: "
        "set REDIS_URL (for example redis://redis.system.svc.cluster.local:6379/0) and run "
        "the command again",
    )
    untouched(conn, [(MODEL, "ready")], 1)


def test_cache_sync_with_nothing_queued(conn, rcli):
    assert ok(rcli("cache", "sync")).stdout == "Synced 0 cache invalidation(s); 0 pending.\n"


def test_cache_invalidate_one_model_or_a_whole_environment(conn, rcli, client):
    for key in (KEY, cache_key(ENV, "mistral-7b"), cache_key("staging", MODEL)):
        client.set(key, "{}")
    result = ok(rcli("cache", "invalidate", "--environment", ENV, "--model-name", MODEL))
    assert result.stdout == 'Invalidated 1 cached entry of "development".\n'
    assert client.get(KEY) is None and client.get(cache_key(ENV, "mistral-7b")) is not None
    result = ok(rcli("cache", "invalidate", "-e", ENV))
    assert result.stdout == 'Invalidated 1 cached entry of "development".\n'
    assert client.keys("model_registry:development:*") == []
    assert client.get(cache_key("staging", MODEL)) is not None
    assert ok(rcli("cache", "invalidate", "-e", ENV)).stdout == (
        'Invalidated 0 cached entries of "development".\n'
    )


def test_cache_invalidate_rejects_invalid_names(conn, rcli, client):
    client.set(KEY, "{}")
    result = rcli("cache", "invalidate", "-e", "dev:*")
    assert result.returncode == 1 and "error: invalid environment 'dev:*'" in result.stderr
    result = rcli("cache", "invalidate", "-e", ENV, "-m", "a:b")
    assert result.returncode == 1 and "error: invalid model name 'a:b'" in result.stderr
    assert client.get(KEY) == b"{}"
    untouched(conn, [], 0)


def test_resolve_says_which_tier_answered(conn, rcli, client):
    ok(rcli("register", "-m", MODEL, "-e", ENV))

    def source():
        return json.loads(ok(rcli("resolve", "-m", MODEL, "-e", ENV, "-o", "json")).stdout)[
            "source"
        ]

    assert source() == "database"
    assert source() == "redis"
    client.delete(KEY)
    assert source() == "database"


def test_resolve_answers_from_redis_while_postgres_is_down(conn, rcli, client):
    ok(rcli("register", "-m", MODEL, "-e", ENV))
    ok(rcli("resolve", "-m", MODEL, "-e", ENV))  # fills the cache
    down = f"postgresql://registry:s3cret-pass@127.0.0.1:{free_port()}/registry"
    result = ok(rcli("resolve", "-m", MODEL, "-e", ENV, "-o", "json", env={"DATABASE_URL": down}))
    assert json.loads(result.stdout)["source"] == "redis"
    assert json.loads(result.stdout)["endpoint"] == ENDPOINT
    # Not cached: the database must answer, and cannot.
    client.delete(KEY)
    result = rcli("resolve", "-m", MODEL, "-e", ENV, env={"DATABASE_URL": down})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: registry lookup failed: host 127.0.0.1, port ")
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr
    assert "s3cret-pass" not in result.stderr


def test_resolve_with_redis_and_postgres_down_is_one_clean_error(conn, rcli):
    env = {
        "DATABASE_URL": f"postgresql://registry:s3cret-pass@127.0.0.1:{free_port()}/registry",
        "REDIS_URL": f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0",
    }
    result = rcli("resolve", "-m", MODEL, "-e", ENV, env=env)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("warning: Redis at 127.0.0.1:") and "did not answer" in lines[0]
    assert lines[-1].startswith("error: registry lookup failed: host 127.0.0.1")
    assert "s3cret-pass" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["\u0663", "99999999999999999999", "0", "86401", "-5", "1e3"])
def test_resolve_refuses_a_cache_ttl_out_of_range(conn, rcli, value):
    result = rcli("resolve", "-m", MODEL, "-e", ENV, env={"REGISTRY_CACHE_TTL": value})
    failed(
        result,
        f"invalid REGISTRY_CACHE_TTL {value!r}: use a whole number of seconds from 1 to 86400 "
        "written in ASCII digits (default 120), or unset it",
    )
