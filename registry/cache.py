"""The router's Redis cache: connection, value encoding, invalidation, outbox sync.

Keys are ``model_registry:{environment}:{model}`` (docs/architecture.md, "Cache protocol") and hold
the JSON of a ``Route``. Every invalidation also increments the environment's
generation counter, in the same MULTI as the deletes. A lookup reads the
generation together with the key, queries the database on a miss, and fills the
key only if the generation is unchanged (checked and set atomically by a Lua
script). So a lookup that read a row before a change committed can never put
that old row back after the change's invalidation ran: the classic cache-aside
race is closed without locks on the read path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import redis_url
from .entry import KEY_PREFIX, cache_key
from .errors import CacheUnavailable, DatabaseUnavailable, RegistryError
from .names import check_namespace, parse_endpoint
from .vocabulary import Status

if TYPE_CHECKING:
    import psycopg

    from .settings import Settings

# A cached value is a flat object of five short strings; anything larger is not ours.
MAX_VALUE_BYTES = 4096
MISSING = {"missing": True}
ROUTE_FIELDS = frozenset(("model_name", "environment", "namespace", "endpoint", "status"))
GENERATION_PREFIX = "model_registry_generation:"
# The router must not hang on a sick Redis: it falls back to the database instead.
SOCKET_TIMEOUT = 1.0
MAX_CONNECTIONS = 64
DELETE_BATCH = 1000

# KEYS[1] value key, KEYS[2] generation key; ARGV: expected generation ('' = none),
# value, time to live in milliseconds.
_FILL_IF_GENERATION = """
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then
    return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


# (environment, model name, encoded value, generation read before the query, ttl seconds)
Fill = tuple[str, str, str, bytes | None, float]


@dataclass(frozen=True)
class Route:
    """The fields of an entry the router needs: where to send a model's requests."""

    model_name: str
    environment: str
    namespace: str
    endpoint: str
    status: str

    def to_dict(self) -> dict[str, str]:
        # Spelled out: dataclasses.asdict deep-copies, a cost on every cache fill.
        return {
            "model_name": self.model_name,
            "environment": self.environment,
            "namespace": self.namespace,
            "endpoint": self.endpoint,
            "status": self.status,
        }


def encode(route: Route | None) -> str:
    """The cached value; ``None`` (no such entry) is the negative-cache marker.

    The format is a contract for routers in any language:
    schemas/cache-entry.schema.json.
    """
    return json.dumps(route.to_dict() if route else MISSING, separators=(",", ":"))


def decode(raw: bytes | str, environment: str, model_name: str) -> Route | None:
    """The route cached for ``model_name`` in ``environment``, or None for the negative
    marker; ValueError for anything else (the lookup counts it and asks the database).

    Redis is shared, so a value may be foreign, stale from another version, or
    poisoned. The size is checked before parsing (a real value is under 300 bytes)
    and so is the bracket count (a flat object has one), so no value can make the
    parser recurse or allocate much.
    """
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_VALUE_BYTES:
        raise ValueError(f"cached value of {len(raw)} bytes, more than {MAX_VALUE_BYTES}")
    if raw.count(b"{") + raw.count(b"[") != 1:
        raise ValueError("cached value is not one flat JSON object")
    try:
        data = json.loads(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"cached value is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValueError("cached value is not a JSON object")
    if data.keys() == MISSING.keys() and data["missing"] is True:
        return None
    if data.keys() != ROUTE_FIELDS or not all(type(v) is str for v in data.values()):
        raise ValueError(f"cached value does not hold the string fields {sorted(ROUTE_FIELDS)}")
    if (data["environment"], data["model_name"]) != (environment, model_name):
        raise ValueError("cached value names another model or environment")
    if not Status.has(data["status"]):
        raise ValueError(f"cached value has an unknown status {data['status']!r}")
    try:
        check_namespace(data["namespace"])
        parse_endpoint(data["endpoint"])
    except RegistryError as error:
        raise ValueError(f"cached value breaks the naming rules: {error}") from None
    return Route(**data)


def generation_key(environment: str) -> str:
    return f"{GENERATION_PREFIX}{environment}"


class Cache:
    """A Redis client with its own connection pool; safe to share between threads."""

    def __init__(self, url: str, *, max_connections: int = MAX_CONNECTIONS) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.address = redis_url.parse(url)  # a bad URL is the operator's mistake, said now
        self.description = self.address.description
        pool = self.address.pool(
            max_connections=max_connections,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
            # One quick retry covers a connection the server closed while idle;
            # a down Redis must fail fast, not back off.
            retry=Retry(NoBackoff(), 1),
        )
        self.client = redis.Redis(connection_pool=pool)
        self._redis_error = redis.RedisError  # kept: an import per call costs on the hit path

    @classmethod
    def from_settings(cls, settings: Settings) -> Cache | None:
        """The cache at REDIS_URL; None when it is unset (the cache is off)."""
        return cls(settings.redis_url) if settings.redis_url else None

    def unavailable(self, error: Exception) -> CacheUnavailable:
        reason = self.address.explain(error)
        return CacheUnavailable(self.description, reason)

    def _call(self, function, *args: Any) -> Any:
        try:
            return function(*args)
        except Exception as error:
            # Not only RedisError: redis-py raises KeyError, TypeError, ... on an answer it
            # cannot read (a broken Sentinel), and a lookup must fall back on those too.
            # Such an error stays chained, for --debug.
            cause = None if isinstance(error, self._redis_error) else error
            raise self.unavailable(error) from cause

    def read(self, environment: str, model_name: str) -> list[bytes | None]:
        """[the cached value, the environment's generation], in one round trip."""
        key = cache_key(environment, model_name)
        return self._call(self.client.mget, key, generation_key(environment))

    def fill_many(self, fills: list[Fill]) -> list[bool]:
        """SET each key unless an invalidation ran since its generation was read, all in
        one round trip; True where the key was set."""
        pipe = self.client.pipeline(transaction=False)
        for environment, model_name, value, generation, ttl in fills:
            # EVAL, not EVALSHA: a pipeline cannot fall back to loading a missing script,
            # and Redis caches the compiled script by its hash anyway.
            pipe.eval(
                _FILL_IF_GENERATION,
                2,
                cache_key(environment, model_name),
                generation_key(environment),
                generation or b"",
                value,
                max(1, int(ttl * 1000)),
            )
        return [bool(filled) for filled in self._call(pipe.execute)]

    def ping(self) -> None:
        """Raise CacheUnavailable unless Redis answers (and accepts the credentials)."""
        self._call(self.client.ping)

    def invalidate(self, keys: Iterable[str]) -> int:
        """Delete ``keys`` in one MULTI pipeline that first bumps their environments'
        generations (so no lookup in flight can refill them); return how many existed."""
        keys = list(dict.fromkeys(keys))  # unique; the order means nothing to Redis
        if not keys:
            return 0
        self._follow_master()
        # The environment of model_registry:{environment}:{model}, inline: this runs per key.
        prefix = len(KEY_PREFIX)
        environments = {key[prefix:].partition(":")[0] for key in keys}
        pipe = self.client.pipeline(transaction=True)
        for environment in environments:
            pipe.incr(generation_key(environment))
        for start in range(0, len(keys), DELETE_BATCH):
            pipe.delete(*keys[start : start + DELETE_BATCH])
        return sum(self._call(pipe.execute)[len(environments) :])

    def invalidate_environment(self, environment: str) -> int:
        """Drop every cached entry of ``environment``; return how many there were."""
        # Bump first: a lookup that read before this cannot fill after the scan.
        self._follow_master()
        self._call(self.client.incr, generation_key(environment))
        pattern = f"{cache_key(environment, '')}*"
        keys = [
            key.decode()
            for key in self._call(lambda: list(self.client.scan_iter(match=pattern, count=1000)))
        ]
        return self.invalidate(keys)

    def _follow_master(self) -> None:
        """With Sentinel, drop pooled connections to a master that lost a failover: an
        invalidation the old master took would reach no router (they track the new one)."""
        self._call(redis_url.current_master, self.client.connection_pool)

    def close(self) -> None:
        self.client.close()
        redis_url.disconnect(self.client.connection_pool)


def pending_invalidations(conn: psycopg.Connection, keys: Sequence[str] | None = None) -> int:
    """Cache keys queued by committed changes and not yet deleted from Redis (of ``keys``
    only, when given)."""
    if keys is None:
        return conn.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0]
    return conn.execute(
        "SELECT count(*) FROM registry_cache_outbox WHERE cache_key = ANY(%s)", (list(keys),)
    ).fetchone()[0]


def sync_outbox(
    conn: psycopg.Connection, cache: Cache, own_keys: Sequence[str] = (), wait: float = 0.0
) -> int:
    """Delete the queued keys from Redis, then remove exactly those outbox rows.

    The rows are deleted (and so locked) in one statement whose transaction
    commits only after Redis confirmed the pipeline; SKIP LOCKED lets two syncs
    at once split the work instead of blocking. If Redis fails, the delete is
    rolled back, CacheUnavailable is raised and every row stays queued.

    ``own_keys`` are the keys of a change the caller just committed: their rows
    are waited for (at most ``wait`` seconds) when another sync holds them, and
    the keys are deleted from Redis even if that sync still holds them then, so
    a sync stuck on a frozen Redis cannot leave a committed change's old route
    cached. Returns the number of rows synced.
    """
    import psycopg

    try:
        with conn.transaction():
            if own_keys:
                _lock_rows(conn, own_keys, wait)
            # = ANY(ARRAY(...)), not IN (...): an index lookup per id instead of a
            # semi-join, half the time for a 10,000-key apply. Rows this transaction
            # locked above are not skipped.
            keys = conn.execute(
                "DELETE FROM registry_cache_outbox WHERE id = ANY(ARRAY("
                " SELECT id FROM registry_cache_outbox FOR UPDATE SKIP LOCKED))"
                " RETURNING cache_key"
            ).fetchall()
            if keys or own_keys:
                cache.invalidate([*(key for (key,) in keys), *own_keys])
            return len(keys)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"lost the connection to the database while syncing the cache outbox: "
            f"{str(error).strip()}. Nothing was removed from the outbox; run "
            "`registry cache sync` again"
        ) from None


def _lock_rows(conn: psycopg.Connection, keys: Sequence[str], wait: float) -> None:
    """Lock the outbox rows of ``keys``, waiting at most ``wait`` seconds for a sync that
    holds them; rows still held after that stay queued (the caller counts them)."""
    import psycopg

    conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(1, int(wait * 1000))}ms",))
    try:
        with conn.transaction():  # a savepoint: a lock timeout must not end the sync
            conn.execute(
                "SELECT 1 FROM registry_cache_outbox WHERE cache_key = ANY(%s) FOR UPDATE",
                (list(keys),),
            )
    except psycopg.errors.LockNotAvailable:
        pass
    conn.execute("SELECT set_config('lock_timeout', '0', true)")
