"""REDIS_URL: the one place a Redis URL is checked, described without secrets and connected.

Two forms (docs/architecture.md, "Cache protocol"):

- ``redis://[[user]:password@]host[:port][/db][?option=value...]``, and
  ``rediss://`` and ``unix://``: redis-py's own URLs, handed to it unchanged.
- ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]
  [?option=value...]``: the form of the Redis-Sentinel-Url package, also read by
  RedisVL and Prefect. Every ``host:port`` is a Sentinel (port 26379 when left
  out); ``service_name`` is the name of its ``sentinel monitor`` line; the user and
  password authenticate to the master, as in ``redis://``. The options
  ``sentinel_username`` and ``sentinel_password`` authenticate to the Sentinels
  (they have their own ``requirepass``); any other option is a redis-py URL
  option for the master connections. Every connection asks a Sentinel for the
  master's address first, so new connections follow a failover; the router's
  client-tracking tier also hears of one at once (``failover_subscription``).

A URL may hold passwords: no error message quotes any part of it, and
``RedisUrl.redact`` takes them out of driver messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .errors import InvalidSetting
from .redact import withhold

if TYPE_CHECKING:
    import redis

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_OPTIONS = ("sentinel_username", "sentinel_password")
# What a Sentinel publishes once it names another master of a service (a failover).
SWITCH_MASTER = "+switch-master"
FORMS = (
    "redis://[:PASSWORD@]HOST:PORT/DB, or "
    "redis+sentinel://[:PASSWORD@]SENTINEL:PORT[,SENTINEL:PORT...]/SERVICE_NAME[/DB]"
)
# A DNS name, an IPv4 address or a bracketed IPv6 address; nothing a terminal interprets.
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]")
# Sentinel accepts any name without spaces; these characters would end a URL part.
_SERVICE = re.compile(r"[!-~]{1,128}")
_SERVICE_STOPS = frozenset("/?#@,%")
_OPTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")  # shown in errors only if it looks like one


def _seconds(value: str) -> bool:
    try:
        return float(value) > 0 and math.isfinite(float(value))
    except ValueError:
        return False


_COUNT = (lambda v: v.isascii() and v.isdigit() and len(v) <= 9, "is not a whole number")
_SECONDS = (_seconds, "is not a number of seconds above 0")
# Only the words on which redis-py's to_bool and a reader agree ("off" is True to it).
_BOOL = (lambda v: v.lower() in ("true", "false", "yes", "no", "1", "0"), "is not true or false")
_WORD = (lambda v: re.fullmatch(r"[!-~]{1,256}", v) is not None, "is empty or has spaces")
_TEXT = (lambda v: v != "", "is empty")
# The ?options redis-py reads (redis.connection.URL_QUERY_ARGUMENT_PARSERS and the keywords
# of its connection classes), with a check of the value and what the check says when it fails.
_OPTIONS: dict[str, tuple[Callable[[str], bool], str]] = {
    "db": _COUNT,
    "socket_timeout": _SECONDS,
    "socket_connect_timeout": _SECONDS,
    "retry_on_timeout": _BOOL,
    "health_check_interval": _COUNT,
    "client_name": _WORD,
    "protocol": (lambda v: v in ("2", "3"), "is not 2 or 3"),
    "socket_keepalive": _BOOL,
    "ssl_cert_reqs": (
        lambda v: v in ("none", "optional", "required"),
        "is not none, optional or required",
    ),
    "ssl_check_hostname": _BOOL,
    "ssl_ca_certs": _TEXT,
    "ssl_ca_path": _TEXT,
    "ssl_certfile": _TEXT,
    "ssl_keyfile": _TEXT,
    "ssl_password": _TEXT,
    "sentinel_username": (lambda v: True, ""),
    "sentinel_password": (lambda v: True, ""),
}
_UNIX_OPTIONS = (  # a Unix socket has no keepalive and no TLS
    "db",
    "socket_timeout",
    "socket_connect_timeout",
    "retry_on_timeout",
    "health_check_interval",
    "client_name",
    "protocol",
)
_TCP_OPTIONS = (*_UNIX_OPTIONS, "socket_keepalive")
_SCHEME_OPTIONS = {
    "unix": _UNIX_OPTIONS,
    "redis": _TCP_OPTIONS,
    "rediss": (*_TCP_OPTIONS, *(name for name in _OPTIONS if name.startswith("ssl_"))),
    # The master connections are plain TCP (rediss+sentinel:// is refused).
    SENTINEL_SCHEME: (*_TCP_OPTIONS, *SENTINEL_OPTIONS),
}


@dataclass(frozen=True)
class RedisUrl:
    """A checked REDIS_URL. ``sentinels`` is empty for a direct URL."""

    url: str = field(repr=False)
    description: str  # where it points, without user or password
    sentinels: tuple[tuple[str, int], ...] = ()
    service_name: str = ""
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def redact(self, text: str) -> str:
        """``text``, unless it quotes a password of the URL, as written or percent-decoded
        (``registry.redact.withhold``)."""
        return withhold(text, self.secrets)

    def explain(self, error: Exception) -> str:
        """A driver error as one line without secrets."""
        if type(error).__name__ == "MasterNotFoundError":  # its text is a dump of clients
            return (
                f"no Sentinel answered with the master of {self.service_name!r}: they are "
                "unreachable, or none monitors that service, or its master is down"
            )
        import redis

        if not isinstance(error, redis.RedisError):  # redis-py could not read the answer
            where = "Redis or a Sentinel" if self.sentinels else "Redis"
            return self.redact(
                f"{where} answered what redis-py cannot read: {type(error).__name__} {error}"
            )
        return self.redact(str(error).strip() or type(error).__name__)

    def pool(self, **options: Any) -> redis.ConnectionPool:
        """A connection pool to the Redis the URL names (the master, through Sentinel).

        ``options`` are redis-py connection options; those written in the URL win, as in
        ``ConnectionPool.from_url``.
        """
        import redis

        if not self.sentinels:
            return redis.ConnectionPool.from_url(self.url, **options)
        from redis.sentinel import Sentinel, SentinelConnectionPool

        query = _query(self.url)
        sentinel_auth = {
            name.removeprefix("sentinel_"): query.pop(name)
            for name in SENTINEL_OPTIONS
            if name in query
        }
        # The Sentinels get the master's timeouts and retries: a dead one must fail as fast.
        sentinel_options = {
            k: v for k, v in options.items() if k.startswith("socket_") or k == "retry"
        }
        manager = Sentinel(self.sentinels, sentinel_kwargs={**sentinel_options, **sentinel_auth})
        connection = {**options, **_master_options(self.url, query)}
        return SentinelConnectionPool(self.service_name, manager, **connection)


def parse(url: str) -> RedisUrl:
    """Check REDIS_URL; InvalidSetting (never quoting the URL) when it is not usable."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == SENTINEL_SCHEME:
        return _parse_sentinel(url)
    if scheme.endswith("+sentinel"):
        raise _invalid(
            f"the scheme {scheme}:// is not supported (TLS to Sentinel is not implemented)"
        )
    import redis.connection

    try:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEME_OPTIONS:  # as redis-py: lower case only
            raise ValueError(parts.scheme)
        options = _options(parts.query, parts.scheme)
        redis.connection.parse_url(url)
    except ValueError:
        raise _invalid("it is not a Redis URL") from None
    secrets = _secrets(parts.password, *options.get("ssl_password", ()))
    if parts.scheme == "unix":
        return RedisUrl(url, f"unix socket {parts.path}", secrets=secrets)
    if parts.hostname and not _encodable(parts.hostname):
        raise _invalid(_BAD_LABEL.format(what="the host name"))
    host = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    db = parts.path if parts.path not in ("", "/") else "/0"
    return RedisUrl(url, f"{host}{db}", secrets=secrets)


def _parse_sentinel(url: str) -> RedisUrl:
    rest = url.partition("://")[2]
    if "#" in rest:
        raise _invalid("a Sentinel URL has no #fragment")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    sentinels = tuple(_address(part, number) for number, part in enumerate(hosts.split(","), 1))
    service, _, db = path.partition("/")
    if not slash or not _SERVICE.fullmatch(service) or _SERVICE_STOPS & set(service):
        raise _invalid(
            "it names no Sentinel service: write the name of the `sentinel monitor` line "
            "after the addresses (printable ASCII, at most 128 characters)"
        )
    if db and not (db.isascii() and db.isdigit() and len(db) <= 5):
        raise _invalid("the database after the service name is not a number")
    options = _options(query, SENTINEL_SCHEME)
    password = userinfo.partition(":")[2] if at else ""
    secrets = _secrets(password, *options.get("sentinel_password", ()))
    checked = RedisUrl(url, "", sentinels, service, secrets)
    try:
        _master_options(url, _query(url))  # redis-py's own check of the options
    except ValueError as error:
        raise _invalid(checked.redact(str(error)).rstrip(".")) from None
    where = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in sentinels)
    description = f"{service}/{db or 0} via Sentinel {where}"
    return RedisUrl(url, description, sentinels, service, secrets)


def _address(text: str, number: int) -> tuple[str, int]:
    """``host[:port]`` of the ``number``th Sentinel (IPv6 in brackets)."""
    host, port = text, ""
    if not text.endswith("]") and ":" in text:
        host, _, port = text.rpartition(":")
    if not _HOST.fullmatch(host):
        raise _invalid(
            f"Sentinel address {number} is not HOST[:PORT] (a DNS name, an IPv4 address "
            "or an IPv6 address in brackets)"
        )
    if not _encodable(host.strip("[]")):
        raise _invalid(_BAD_LABEL.format(what=f"the host name of Sentinel address {number}"))
    if port and not (port.isascii() and port.isdigit() and 0 < int(port[:6]) < 65536):
        raise _invalid(f"the port of Sentinel address {number} is not a number from 1 to 65535")
    return host.strip("[]"), int(port or DEFAULT_SENTINEL_PORT)


_BAD_LABEL = (
    "{what} has an empty part (two dots in a row) or a part over 63 characters between dots"
)


def _encodable(host: str) -> bool:
    """Whether the resolver can take ``host`` (Python encodes it as IDNA: DNS labels of 1 to
    63 characters); the connection would fail with UnicodeError otherwise."""
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def _options(query: str, scheme: str) -> dict[str, list[str]]:
    """The ``?options`` of a URL with ``scheme``; InvalidSetting unless each is one that
    redis-py reads for that scheme, given once, with a value it can use."""
    try:
        options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise _invalid("its ?options are not name=value pairs joined by &") from None
    allowed = _SCHEME_OPTIONS.get(scheme, ())
    for name, values in options.items():
        shown = f"?{name}=" if _OPTION_NAME.fullmatch(name) else "an ?option name"
        if name == "service_name" and scheme == SENTINEL_SCHEME:
            raise _invalid(
                "the Sentinel service is named in the path (/SERVICE_NAME), not by ?service_name="
            )
        if name not in allowed:
            raise _invalid(
                f"{shown} is not an option of a {scheme}:// URL (those are: {', '.join(allowed)})"
            )
        if len(values) > 1:
            raise _invalid(f"{shown} is given more than once")
        check, problem = _OPTIONS[name]
        if not check(values[0]):
            raise _invalid(f"the value of {shown} {problem}")
    return options


def _query(url: str) -> dict[str, str]:
    query = url.partition("?")[2]
    return {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}


def _master_options(url: str, query: dict[str, str]) -> dict[str, Any]:
    """redis-py's options for the master: credentials, database and URL options, parsed by
    redis-py itself from the equivalent ``redis://`` URL (no host: Sentinel names it)."""
    import redis.connection

    rest = url.partition("://")[2].partition("?")[0]
    netloc, _, path = rest.partition("/")
    userinfo, at, _ = netloc.rpartition("@")
    db = path.partition("/")[2] or "0"
    plain = {k: v for k, v in query.items() if k not in SENTINEL_OPTIONS}
    options = redis.connection.parse_url(
        f"redis://{userinfo}{at}localhost/{quote(db)}?{urlencode(plain)}"
    )
    options.pop("host", None)
    return options


def _secrets(*passwords: str | None) -> tuple[str, ...]:
    found = {form for password in passwords if password for form in (password, unquote(password))}
    return tuple(sorted(found, key=len, reverse=True))  # longest first: no partial leftovers


def _invalid(reason: str) -> InvalidSetting:
    return InvalidSetting(f"invalid REDIS_URL: {reason}. Use {FORMS}")


def current_master(pool: redis.ConnectionPool) -> tuple[str, int] | None:
    """The master's address a Sentinel names now (None for a direct URL); asking also
    closes the pool's idle connections to a master that is no longer the master."""
    ask = getattr(pool, "get_master_address", None)  # SentinelConnectionPool only
    return None if ask is None else ask()


def failover_subscription(pool: redis.ConnectionPool) -> redis.Connection | None:
    """For a Sentinel URL, a connection to the first of its Sentinels that takes the
    subscription, subscribed to their announcement of a new master (``+switch-master``,
    read with ``announces_failover``); None for a direct URL. It has the Sentinels'
    credentials and timeouts (``sentinel_username``, ``sentinel_password``). Raises the
    last Sentinel's error when none took it; the caller closes it with ``disconnect()``.
    """
    manager = getattr(pool, "sentinel_manager", None)
    if manager is None:
        return None
    failure: Exception = ConnectionError("no Sentinel")  # parse() let no such URL through
    for sentinel in manager.sentinels:
        sentinel_pool = sentinel.connection_pool
        # RESP2 and no client-side health check, as a subscriber's messages need.
        options = {**sentinel_pool.connection_kwargs, "protocol": 2, "health_check_interval": 0}
        connection = sentinel_pool.connection_class(**options)
        try:
            connection.connect()
            connection.send_command("SUBSCRIBE", SWITCH_MASTER)
            connection.read_response()  # the confirmation, or the refusal raised
        except Exception as error:  # redis-py raises more than RedisError on odd answers
            connection.disconnect()
            failure = error
            continue
        return connection
    raise failure


def announces_failover(pool: redis.ConnectionPool, reply: object) -> bool:
    """Whether ``reply``, read from a ``failover_subscription``, says that the pool's
    service has a new master (``<service> <old ip> <old port> <new ip> <new port>``)."""
    if not (isinstance(reply, list) and len(reply) == 3 and reply[0] in (b"message", "message")):
        return False  # the subscription's confirmation or a PONG
    data = reply[2].decode("utf-8", "replace") if isinstance(reply[2], bytes) else reply[2]
    return data.partition(" ")[0] == pool.service_name


def disconnect(pool: redis.ConnectionPool) -> None:
    """Close the pool's connections, and its Sentinel clients for a Sentinel URL."""
    pool.disconnect()
    manager = getattr(pool, "sentinel_manager", None)
    if manager is not None:
        manager.close()
