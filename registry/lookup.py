"""The router's lookup: model name and environment to endpoint, cache-aside.

``Resolver.resolve`` reads Redis first (one round trip), then one indexed
query, and answers. The cache fill, guarded by the environment's generation
(see ``registry.cache``), runs on a background thread that sends the fills of
a few milliseconds in one pipeline: a miss waits for two round trips instead of
three, and the guard makes a late fill as safe as an early one. Redis trouble
never fails a lookup: it is counted, the database answers, and Redis is skipped
for ``cache_retry_interval`` seconds so a dead Redis costs no latency on every
request. Both stores are pooled; one Resolver serves any number of threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from . import names
from .cache import Cache, CacheUnavailable, Fill, Route, decode, encode, ttl_from_env
from .db import connection_options
from .errors import DatabaseUnavailable, ModelNotFound, ModelNotReady

__all__ = ["LookupStats", "Resolver", "Route", "resolve"]

DEFAULT_NEGATIVE_TTL = 5.0
# Fills waiting for Redis; past this a miss skips its fill (counted) rather than queue memory.
FILL_QUEUE_SIZE = 1024
FILL_BATCH = 100
# How long the fill thread gathers misses before one pipeline: per-miss wake-ups and
# round trips cost the router more CPU than the lookups themselves (benchmarks/).
FILL_DELAY = 0.002
_QUERY = (
    "SELECT namespace, endpoint, status FROM model_registry_entries"
    " WHERE model_name = %s AND environment = %s"
)


@dataclass(frozen=True)
class LookupStats:
    """Counters since the Resolver was created."""

    cache_hits: int = 0
    cache_misses: int = 0
    cache_errors: int = 0  # Redis failed; the database answered instead
    fills_refused: int = 0  # an invalidation ran while the database was read
    fills_dropped: int = 0  # the fill queue was full
    database_queries: int = 0
    database_errors: int = 0


class Resolver:
    """Cache-aside lookups against a pooled PostgreSQL and an optional Redis cache.

    Takes ownership of ``cache``: ``close()`` closes both pools.
    """

    def __init__(
        self,
        database_url: str,
        *,
        cache: Cache | None = None,
        ttl: float | None = None,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        max_connections: int = 10,
        pool_timeout: float = 5.0,
        reconnect_timeout: float = 10.0,
        cache_retry_interval: float = 1.0,
        description: str = "the registry database",
    ) -> None:
        self.cache = cache
        self.ttl = ttl_from_env() if ttl is None else ttl
        self.negative_ttl = min(negative_ttl, self.ttl)
        self.cache_retry_interval = cache_retry_interval
        self.description = description
        # Plain counters: a LookupStats rebuilt per lookup (dataclasses.replace) cost more
        # than the rest of a cache hit's Python.
        self._counts: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._cache_skip_until = 0.0
        # open(wait=False): the router starts even while PostgreSQL is down, and
        # lookups recover once it is back. A short reconnect_timeout keeps the
        # pool's reconnection backoff from growing past it.
        self._pool = ConnectionPool(
            database_url,
            min_size=1,
            max_size=max_connections,
            kwargs=connection_options(database_url, connect_timeout=max(1, int(pool_timeout))),
            timeout=pool_timeout,
            reconnect_timeout=reconnect_timeout,
            name="registry-lookup",
            open=False,
        )
        self._pool.open(wait=False)
        self._fills: queue.Queue[Fill | None] = queue.Queue(maxsize=FILL_QUEUE_SIZE)
        self._filler: threading.Thread | None = None
        self._filler_lock = threading.Lock()

    @classmethod
    def from_env(cls, **options) -> Resolver:
        """DATABASE_URL (or the embedded default), REDIS_URL, REGISTRY_CACHE_TTL."""
        from .db import resolve_target

        target = resolve_target()
        return cls(target.url, cache=Cache.from_env(), description=target.description, **options)

    @property
    def stats(self) -> LookupStats:
        with self._stats_lock:
            return LookupStats(**self._counts)

    def _count(self, name: str, number: int = 1) -> None:
        with self._stats_lock:
            self._counts[name] += number

    def resolve(self, model_name: str, environment: str) -> Route:
        """The route of a ready model; raises ModelNotFound or ModelNotReady."""
        names.check_environment(environment)
        # Request input that cannot be a registered name is unknown: no cache key, no query.
        if not names.DNS_1035_LABEL.fullmatch(model_name or "") or len(model_name) > 63:
            raise ModelNotFound(model_name)
        route = self._lookup(model_name, environment)
        if route is None:
            raise ModelNotFound(model_name)
        if route.status != "ready":
            raise ModelNotReady(model_name, route.status)
        return route

    def _lookup(self, model_name: str, environment: str) -> Route | None:
        cache = self.cache if time.monotonic() >= self._cache_skip_until else None
        generation = None
        if cache is not None:
            try:
                raw, generation = cache.read(environment, model_name)
            except CacheUnavailable:
                self._cache_failed()
                cache = None
            else:
                hit, route = _cached(raw)
                if hit:
                    self._count("cache_hits")
                    return route
                self._count("cache_misses")
        route = self._query(model_name, environment)
        ttl = self.ttl if route is not None else self.negative_ttl
        if cache is not None and ttl > 0:
            self._queue_fill((environment, model_name, encode(route), generation, ttl))
        return route

    def _queue_fill(self, fill: Fill) -> None:
        if self._filler is None:
            with self._filler_lock:  # started by the first miss, not by construction
                if self._filler is None:
                    self._filler = threading.Thread(
                        target=self._run_fills, name="registry-cache-fill", daemon=True
                    )
                    self._filler.start()
        try:
            self._fills.put_nowait(fill)
        except queue.Full:
            self._count("fills_dropped")

    def _run_fills(self) -> None:
        while True:
            batch = [self._fills.get()]
            time.sleep(FILL_DELAY)
            while len(batch) < FILL_BATCH and not self._fills.empty():
                batch.append(self._fills.get_nowait())
            fills = [fill for fill in batch if fill is not None]
            try:
                if fills:
                    refused = self.cache.fill_many(fills).count(False)
                    if refused:
                        self._count("fills_refused", refused)
            except CacheUnavailable:
                self._cache_failed()
            finally:
                for _ in batch:
                    self._fills.task_done()
            if len(fills) < len(batch):  # close() queued its stop marker
                return

    def flush(self) -> None:
        """Wait until the cache fills queued so far have run (Redis calls time out, so
        this is bounded)."""
        if self._filler is not None:
            self._fills.join()

    def _cache_failed(self) -> None:
        self._count("cache_errors")
        self._cache_skip_until = time.monotonic() + self.cache_retry_interval

    def _query(self, model_name: str, environment: str) -> Route | None:
        self._count("database_queries")
        try:
            try:
                return self._fetch(model_name, environment)
            except PoolTimeout:
                raise
            except psycopg.OperationalError:
                # A server restart breaks every pooled connection at once: drop
                # the broken ones, then retry once on a fresh connection.
                self._pool.check()
                return self._fetch(model_name, environment)
        except psycopg.Error as error:
            raise self._unavailable(error) from None

    def _fetch(self, model_name: str, environment: str) -> Route | None:
        with self._pool.connection() as conn:
            row = conn.execute(_QUERY, (model_name, environment)).fetchone()
        return Route(model_name, environment, *row) if row else None

    def _unavailable(self, error: Exception) -> DatabaseUnavailable:
        self._count("database_errors")
        from .db import redact

        text = str(error).strip()
        reason = redact(text.splitlines()[0] if text else type(error).__name__, self._pool.conninfo)
        return DatabaseUnavailable(
            f"registry lookup failed: {self.description} did not answer ({reason}). "
            "Check that PostgreSQL is running and DATABASE_URL is right; lookups recover by "
            "themselves once it is back"
        )

    def close(self) -> None:
        """Finish the queued fills (a one-shot caller still leaves its fill), then close."""
        if self._filler is not None:
            self._fills.put(None)
            self._filler.join()
            self._filler = None
        self._pool.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Resolver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _cached(raw: bytes | None) -> tuple[bool, Route | None]:
    """(hit, route) for a cached value; an unreadable value counts as a miss and is refilled."""
    if raw is None:
        return False, None
    try:
        return True, decode(raw)
    except ValueError:
        return False, None


_default: Resolver | None = None
_default_lock = threading.Lock()


def resolve(model_name: str, environment: str) -> Route:
    """``Resolver.from_env().resolve``, with one Resolver shared by the whole process."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Resolver.from_env()
    return _default.resolve(model_name, environment)
