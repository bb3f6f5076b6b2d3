"""REDIS_URL ?options and host names: only what redis-py can use is accepted, each value
checked, so a URL that passes is one whose connections work, and one that does not is a
clean `invalid REDIS_URL` error that never quotes its secrets (not an internal error at
the first command, nor a router whose every lookup raises)."""

from __future__ import annotations

import pytest

from registry import redis_url
from registry.cache import Cache
from registry.errors import InvalidSetting
from registry.redact import WITHHELD
from tests.helpers import fails

SECRET = "S3cretPw"


@pytest.mark.parametrize(
    "url",
    [
        "{redis}?ssl_cert_reqs=none",  # a rediss:// option on a redis:// URL
        "{redis}?sockettimeout=5",  # a typo
        "{redis}?retry=3",
        "redis://redis..svc.cluster.local:6379/0",  # an empty DNS label
        "redis+sentinel://sentinel..svc.cluster.local/registry-cache",
        "redis+sentinel://127.0.0.1:1/registry-cache?service_name=other",
    ],
)
def test_a_redis_url_redis_py_cannot_use_is_a_clean_error(registry, redis_url, url):
    fails(
        registry("cache", "sync", env={"REDIS_URL": url.format(redis=redis_url)}),
        "error: invalid REDIS_URL: ",
    )


def test_the_router_refuses_such_a_url_when_it_starts_not_at_every_lookup(redis_url):
    with pytest.raises(InvalidSetting, match="is not an option of a redis:// URL"):
        Cache(f"{redis_url}?ssl_cert_reqs=none")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis://:{s}@h/0?sockettimeout=5", "?sockettimeout= is not an option of a redis://"),
        ("redis://:{s}@h/0?ssl_cert_reqs=none", "?ssl_cert_reqs= is not an option of a redis"),
        ("unix://:{s}@/run/r.sock?socket_keepalive=1", "?socket_keepalive= is not an option"),
        ("rediss://:{s}@h/0?sentinel_password=x", "?sentinel_password= is not an option"),
        (
            "redis://:{s}@h/0?{s}=1",
            "an ?option name is not an option of a redis:",
        ),  # a name never quoted
        ("redis://:{s}@h/0?db=1&db=2", "?db= is given more than once"),
        ("redis://:{s}@h/0?socket_timeout=0", "the value of ?socket_timeout= is not a number"),
        ("redis://:{s}@h/0?socket_timeout=inf", "the value of ?socket_timeout= is not a number"),
        ("redis://:{s}@h/0?socket_timeout={s}", "the value of ?socket_timeout= is not a number"),
        ("redis://:{s}@h/0?retry_on_timeout=off", "the value of ?retry_on_timeout= is not true"),
        ("redis://:{s}@h/0?protocol=4", "the value of ?protocol= is not 2 or 3"),
        ("redis://:{s}@h/0?client_name=a%20b", "the value of ?client_name= is empty or has"),
        ("redis://:{s}@h/0?db=", "the value of ?db= is not a whole number"),
        ("rediss://:{s}@h/0?ssl_cert_reqs=no", "the value of ?ssl_cert_reqs= is not none"),
        ("redis://:{s}@h/0?{s}", "its ?options are not name=value pairs"),
        ("redis://:{s}@a..b/0", "the host name has an empty part"),
        ("redis://:{s}@" + "a" * 64 + ".svc/0", "the host name has an empty part"),
        ("redis+sentinel://:{s}@s1,a..b/m", "the host name of Sentinel address 2 has an empty"),
        ("redis+sentinel://:{s}@s1/m?service_name=m", "the Sentinel service is named in the"),
        ("redis+sentinel://:{s}@s1/m?ssl_cert_reqs=none", "?ssl_cert_reqs= is not an option"),
        ("redis+sentinel://:{s}@s1/m?retry=3", "?retry= is not an option of a redis+sentinel"),
    ],
)
def test_an_unusable_option_or_host_is_a_clean_error_that_never_quotes_the_url(url, reason):
    with pytest.raises(InvalidSetting) as raised:
        redis_url.parse(url.format(s=SECRET))
    message = str(raised.value)
    assert message.startswith(f"invalid REDIS_URL: {reason}"), message
    assert SECRET not in message


OPTIONS = (
    "socket_timeout=2&socket_connect_timeout=2.5&retry_on_timeout=yes&health_check_interval=5"
    "&client_name=router-1&protocol=3&db=1"
)


@pytest.mark.parametrize(
    "url",
    [
        f"unix:///run/redis.sock?{OPTIONS}",
        f"redis://h/0?{OPTIONS}&socket_keepalive=false",
        f"rediss://h/0?{OPTIONS}&socket_keepalive=1&ssl_cert_reqs=optional&ssl_check_hostname=0"
        "&ssl_ca_certs=/ca.pem&ssl_ca_path=/certs&ssl_certfile=/c.pem&ssl_keyfile=/k.pem"
        "&ssl_password=kp",
        f"redis+sentinel://s1/m?{OPTIONS}&socket_keepalive=true&sentinel_username=u"
        "&sentinel_password=p",
    ],
    ids=["unix", "redis", "rediss", "sentinel"],
)
def test_every_accepted_option_is_one_redis_py_connections_take(url):
    pool = redis_url.parse(url).pool()
    try:
        connection = pool.make_connection()  # the constructor only: no server needed
        assert (connection.db, connection.client_name) == (1, "router-1")
    finally:
        redis_url.disconnect(pool)


def test_accepted_options_reach_a_real_redis(redis_url):
    cache = Cache(f"{redis_url}?{OPTIONS.replace('db=1', 'db=2')}")
    try:
        cache.ping()
        assert cache.client.client_getname() in ("router-1", b"router-1")
    finally:
        cache.close()


def test_a_tls_key_password_is_a_secret_of_the_url():
    parsed = redis_url.parse(f"rediss://h/0?ssl_keyfile=/k.pem&ssl_password={SECRET}")
    assert parsed.redact(f"bad decrypt with {SECRET}") == WITHHELD
