"""REDIS_URL forms, and the registry's Redis paths through a real Sentinel: apply's
invalidations, `registry resolve` and `registry cache`, the router's Resolver and its
client-tracking tier, across a failover."""

from __future__ import annotations

import json

import pytest
import redis

from registry import redis_url
from registry.cache import Cache
from registry.errors import CacheUnavailable, InvalidSetting, ModelNotReady
from registry.local_cache import ABSENT, LocalCache
from registry.lookup import Resolver
from registry.redact import WITHHELD
from tests.helpers import (
    ENDPOINT,
    ENV,
    KEY,
    MODEL,
    free_port,
    register,
    set_status,
    wait_for,
)
from tests.redis_sentinel import SERVICE, SentinelTopology

PASSWORD = "m4ster/pw"  # '/' must be percent-encoded in the URL
SENTINEL_PASSWORD = "s3ntinel-pw"


@pytest.mark.parametrize(
    ("url", "sentinels", "service", "description"),
    [
        (
            "redis+sentinel://s1/mymaster",
            (("s1", 26379),),
            "mymaster",
            "mymaster/0 via Sentinel s1:26379",
        ),
        (
            "redis+sentinel://:pw@10.0.0.1:26380,s2.example:5000,[fd00::1]:26379/cache/3",
            (("10.0.0.1", 26380), ("s2.example", 5000), ("fd00::1", 26379)),
            "cache",
            "cache/3 via Sentinel 10.0.0.1:26380,s2.example:5000,[fd00::1]:26379",
        ),
        (
            "REDIS+SENTINEL://u:pw@s/m?sentinel_password=x&socket_keepalive=true",
            (("s", 26379),),
            "m",
            "m/0 via Sentinel s:26379",
        ),
    ],
)
def test_sentinel_urls_name_their_sentinels_and_service(url, sentinels, service, description):
    parsed = redis_url.parse(url)
    assert (parsed.sentinels, parsed.service_name, parsed.description) == (
        sentinels,
        service,
        description,
    )
    assert "pw" not in repr(parsed)


def test_direct_urls_are_described_as_before():
    assert redis_url.parse("redis://:pw@127.0.0.1:6380/2").description == "127.0.0.1:6380/2"
    assert redis_url.parse("redis://cache").description == "cache:6379/0"
    assert redis_url.parse("unix:///run/redis.sock").description == "unix socket /run/redis.sock"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://u:s3cret@example.invalid/0", "it is not a Redis URL"),
        ("redis://:s3cret@host:port/0", "it is not a Redis URL"),
        ("redis+sentinel://:s3cret", "Sentinel address 1 is not HOST[:PORT]"),  # no '@'
        ("redis+sentinel://:s3cret@s1,/m", "Sentinel address 2 is not HOST[:PORT]"),
        ("redis+sentinel://:s3cret@s1:99999/m", "the port of Sentinel address 1"),
        ("redis+sentinel://:s3cret@s1:26379", "it names no Sentinel service"),
        ("redis+sentinel://:s3cret@s1/", "it names no Sentinel service"),
        ("redis+sentinel://:s3cret@s1/m\x1b[2J", "it names no Sentinel service"),
        ("redis+sentinel://:s3cret@s1/m/zero", "the database after the service name"),
        ("redis+sentinel://:s3cret@s1/m#s3cret", "a Sentinel URL has no #fragment"),
        ("redis+sentinel://:s3cret@s1/m?s3cret", "its ?options are not name=value"),
        ("redis+sentinel://s1/m?socket_timeout=s3cret", "the value of ?socket_timeout= is not"),
        ("rediss+sentinel://:s3cret@s1/m", "the scheme rediss+sentinel:// is not supported"),
    ],
)
def test_a_bad_url_is_a_clean_error_that_never_quotes_it(url, reason):
    with pytest.raises(InvalidSetting) as raised:
        redis_url.parse(url)
    message = str(raised.value)
    assert message.startswith(f"invalid REDIS_URL: {reason}")
    assert "redis+sentinel://[:PASSWORD@]SENTINEL:PORT" in message  # what to write instead
    assert "s3cret" not in message


@pytest.mark.parametrize("said", ["auth a/b failed", "auth a%2Fb failed", "auth sp@x failed"])
def test_redact_withholds_a_message_with_any_password_as_written_or_decoded(said):
    parsed = redis_url.parse("redis+sentinel://:a%2Fb@s/m?sentinel_password=sp%40x")
    assert parsed.redact(said) == WITHHELD
    assert parsed.redact("auth failed") == "auth failed"


# --- through a real Sentinel ---


@pytest.fixture
def sentinel(tmp_path):
    topology = SentinelTopology(tmp_path, password=PASSWORD, sentinel_password=SENTINEL_PASSWORD)
    yield topology.start()
    topology.stop()


@pytest.fixture
def master(sentinel):
    """A plain client of the master the Sentinel names (now: the topology's master)."""
    client = sentinel.client(sentinel.master)
    yield client
    client.close()


def test_cli_apply_resolve_and_cache_commands_go_through_the_sentinel(cli, conn, sentinel, master):
    env = {"REDIS_URL": sentinel.url}

    def run(*args):
        result = cli(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert PASSWORD not in result.stdout + result.stderr
        return result

    run("register", "-m", MODEL, "-e", ENV)
    entry = json.loads(run("resolve", "-m", MODEL, "-e", ENV, "-o", "json").stdout)
    assert (entry["endpoint"], entry["source"]) == (ENDPOINT, "database")
    assert master.exists(KEY)  # filled on the master the Sentinel named
    run("disable", "-m", MODEL, "-e", ENV)  # apply's invalidation
    assert not master.exists(KEY)
    master.set(KEY, "stale")
    assert "1" in run("cache", "invalidate", "-e", ENV).stdout
    assert not master.exists(KEY)
    assert run("cache", "sync").stdout.endswith("0 pending.\n")


def test_unreachable_sentinels_and_wrong_passwords_are_clean_errors(cli, conn, sentinel):
    closed = f"redis+sentinel://:{PASSWORD.replace('/', '%2F')}@127.0.0.1:{free_port()}/{SERVICE}"
    wrong_sentinel_pw = sentinel.url.replace(SENTINEL_PASSWORD, "wrong-sentinel-pw")
    wrong_master_pw = sentinel.url.replace("m4ster%2Fpw", "wrong-master-pw")
    for url in (closed, wrong_sentinel_pw, wrong_master_pw):
        result = cli("cache", "sync", env={"REDIS_URL": url})
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        [error] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert f"error: Redis at {SERVICE}/0 via Sentinel 127.0.0.1:" in error
        for secret in ("m4ster", "wrong-sentinel-pw", "wrong-master-pw", SENTINEL_PASSWORD):
            assert secret not in result.stderr
        if url == closed:  # not redis-py's dump of its Sentinel clients
            assert f"(no Sentinel answered with the master of '{SERVICE}':" in error
    result = cli("cache", "sync", env={"REDIS_URL": "redis+sentinel://:m4ster@127.0.0.1:x/s"})
    assert result.returncode == 1
    assert "error: invalid REDIS_URL: the port of Sentinel address 1" in result.stderr
    assert "m4ster" not in result.stderr and "Traceback" not in result.stderr


def test_a_sentinel_url_with_a_bad_option_is_refused_before_any_connection():
    with pytest.raises(InvalidSetting):
        Cache("redis+sentinel://127.0.0.1:1/m?health_check_interval=often")


@pytest.fixture
def stubborn(tmp_path):
    topology = SentinelTopology(tmp_path, password=PASSWORD, stubborn_master=True)
    yield topology.start()
    topology.stop()


def test_the_resolver_and_a_long_lived_writer_follow_a_failover(conn, database_url, stubborn):
    sentinel = stubborn
    writer = Cache(sentinel.url)  # lives across the failover, as the controller's does
    resolver = Resolver(database_url, cache=Cache(sentinel.url), cache_retry_interval=0)

    def source():
        resolver.flush()
        return resolver.resolve_with_source(MODEL, ENV)[1]

    try:
        register(conn, cache=writer)
        wait_for(lambda: source() == "local", "a local copy")
        assert sentinel.tracked_by(sentinel.master)

        sentinel.failover()
        # The old master still answers and takes writes, but the tier drops its copies and
        # tracks the new master.
        wait_for(lambda: sentinel.tracked_by(sentinel.replica), "tracking on the new master")
        assert resolver.stats.tracking_losses >= 1
        wait_for(lambda: source() == "local", "a local copy read from the new master")
        # The writer's pooled connections still lead to the old master: an invalidation
        # there would reach no router. It asks the Sentinel first, so the change's DEL
        # lands on the new master, whose push reaches the router before apply returns.
        set_status(conn, "disable", cache=writer)
        with sentinel.client(sentinel.replica) as new_master:
            assert not new_master.exists(KEY)
        with pytest.raises(ModelNotReady):
            resolver.resolve(MODEL, ENV)
    finally:
        resolver.close()
        writer.close()


def test_a_dead_sentinel_fails_the_lookup_over_to_the_database(conn, database_url, sentinel):
    register(conn)
    sentinel.sentinel.stop()
    with Resolver(database_url, cache=Cache(sentinel.url), cache_retry_interval=0) as resolver:
        assert resolver.resolve_with_source(MODEL, ENV)[1] == "database"
        assert resolver.stats.cache_errors == 1
    with pytest.raises(CacheUnavailable) as raised:
        Cache(sentinel.url).ping()
    assert "via Sentinel" in str(raised.value) and SENTINEL_PASSWORD not in str(raised.value)


# --- the tracking tier hears of a failover from a Sentinel ---

ASKED_RARELY = 600  # seconds: asking the Sentinels for the master cannot be what notices


def lookup(tier: LocalCache, cache: Cache) -> tuple[object, str]:
    """One lookup as the Resolver makes it: memory, else Redis (kept unless invalidated)."""
    held = tier.get(KEY)
    if held is not ABSENT:
        return held, "local"
    epoch = tier.epoch
    value = cache.read(ENV, MODEL)[0]
    tier.store(KEY, value, epoch)
    return value, "redis"


def test_a_failover_announced_by_the_sentinel_moves_the_tier_at_once(stubborn):
    sentinel, cache = stubborn, Cache(stubborn.url)
    tier = LocalCache(cache, 10, health_interval=ASKED_RARELY)
    try:
        with sentinel.client(sentinel.master) as old_master:
            old_master.set(KEY, b"old")
        wait_for(lambda: lookup(tier, cache) == (b"old", "local"), "a local copy")
        assert tier.unsubscribed == 0

        sentinel.failover()  # returns once the Sentinel names the new master to redis-py
        with sentinel.client(sentinel.replica) as new_master:
            new_master.set(KEY, b"new")
        # The old master still answers and its tracking connection pushed nothing, but
        # the announcement reached this host before the write: no old copy, not once.
        assert tier.get(KEY) is ABSENT
        wait_for(lambda: sentinel.tracked_by(sentinel.replica), "tracking on the new master")
        wait_for(lambda: lookup(tier, cache) == (b"new", "local"), "a copy from the new master")
        assert not sentinel.tracked_by(sentinel.master)
        assert tier.losses == 1  # the failover; the tier came back once, on the new master
    finally:
        tier.close()
        cache.close()


def test_a_lost_sentinel_subscription_is_set_up_again_with_tracking(sentinel):
    cache = Cache(sentinel.url)
    tier = LocalCache(cache, 10, health_interval=ASKED_RARELY)
    try:
        with sentinel.client(sentinel.sentinel) as admin:

            def subscribers():
                return [c["id"] for c in admin.client_list(_type="pubsub")]

            wait_for(lambda: tier.active, "tracking")
            [subscriber] = subscribers()
            admin.client_kill_filter(_id=subscriber)
            # Nothing would tell of a failover now: the tier stops until it is subscribed again.
            wait_for(lambda: tier.losses == 1, "the loss to be noticed")
            wait_for(lambda: tier.active, "tracking again")
            [renewed] = subscribers()
            assert renewed != subscriber
            assert tier.unsubscribed == 0
    finally:
        tier.close()
        cache.close()


def test_without_a_sentinel_subscription_tracking_asks_the_sentinels(conn, database_url, sentinel):
    # A Sentinel user that may ask for the master but not subscribe: every Sentinel refuses.
    with sentinel.client(sentinel.sentinel) as admin:
        admin.execute_command(
            "ACL", "SETUSER", "asker", "on", ">asker-pw", "+@all", "-subscribe", "-psubscribe"
        )
    url = f"{sentinel.url.partition('?')[0]}?sentinel_username=asker&sentinel_password=asker-pw"
    cache = Cache(url)
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis_url.failover_subscription(cache.client.connection_pool)
    register(conn)
    with Resolver(database_url, cache=cache, cache_retry_interval=0) as resolver:

        def source():
            resolver.flush()
            return resolver.resolve_with_source(MODEL, ENV)[1]

        wait_for(lambda: source() == "local", "a local copy")
        assert resolver.stats.tracking_unsubscribed == 1
        assert resolver.stats.tracking_losses == 0  # tracking itself is whole

        sentinel.failover()
        wait_for(lambda: sentinel.tracked_by(sentinel.replica), "tracking on the new master")
        wait_for(lambda: source() == "local", "a copy from the new master")
        assert resolver.stats.tracking_unsubscribed == 2  # set up twice, asking each time


def test_a_direct_url_has_no_failover_subscription():
    pool = redis_url.parse(f"redis://127.0.0.1:{free_port()}/0").pool()  # nothing listens
    assert redis_url.failover_subscription(pool) is None


@pytest.mark.parametrize(
    ("reply", "announces"),
    [
        ([b"message", b"+switch-master", f"{SERVICE} 10.0.0.1 6379 10.0.0.2 6379".encode()], True),
        ([b"message", b"+switch-master", b"other-service 10.0.0.1 6379 10.0.0.2 6379"], False),
        ([b"message", b"+switch-master", f"{SERVICE}x 10.0.0.1 1 10.0.0.2 1".encode()], False),
        ([b"subscribe", b"+switch-master", 1], False),
        ([b"pong", b""], False),
    ],
)
def test_only_a_new_master_of_our_service_is_a_failover(reply, announces):
    pool = redis_url.parse(f"redis+sentinel://127.0.0.1:{free_port()}/{SERVICE}").pool()
    assert redis_url.announces_failover(pool, reply) is announces
