"""The router's lookup: model name and environment to endpoint, in three tiers.

``Resolver.resolve`` answers from process memory (``registry.local_cache``, kept
coherent by Redis client tracking), else reads Redis (one round trip), else runs
one indexed query, and answers. The cache fill, guarded by the environment's generation
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from . import names
from .cache import Cache, Fill, Route, decode, encode
from .db import NO_LIBPQ, connection_options
from .entry import cache_key
from .errors import CacheUnavailable, DatabaseUnavailable, ModelNotFound, ModelNotReady
from .local_cache import ABSENT, LocalCache
from .settings import DEFAULT_CACHE_TTL, DEFAULT_LOCAL_CACHE_SIZE, Settings
from .vocabulary import Status

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["LookupStats", "Resolver", "Route", "resolve"]

# registry_lookups_total{result}: the tier that answered a ready route, or why none did.
RESULTS = ("local_hit", "redis_hit", "database", "not_found", "not_ready", "error")
_RESULT_OF_SOURCE = {"local": "local_hit", "redis": "redis_hit", "database": "database"}

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

    local_hits: int = 0  # answered from process memory
    cache_hits: int = 0  # answered by Redis
    cache_misses: int = 0
    cache_invalid: int = 0  # a cached value failed its checks: a miss, refilled
    cache_errors: int = 0  # Redis failed; the database answered instead
    fills_refused: int = 0  # an invalidation ran while the database was read
    fills_dropped: int = 0  # the fill queue was full
    database_queries: int = 0
    database_errors: int = 0
    tracking_losses: int = 0  # the local tier's invalidation stream was lost or refused
    # Tracking set up while no Sentinel took the failover subscription: a failover is
    # then noticed by asking the Sentinels, up to a second late.
    tracking_unsubscribed: int = 0
    local_entries: int = 0


class Resolver:
    """Lookups from memory, then Redis, then a pooled PostgreSQL.

    The in-process tier holds up to ``local_cache_size`` entries
    (REGISTRY_LOCAL_CACHE_SIZE; 0 turns it off) and exists only with a ``cache``:
    Redis is what invalidates it. ``metrics``, a prometheus_client
    CollectorRegistry, receives ``registry_lookups_total{result}`` and
    ``registry_local_cache_entries``. Takes ownership of ``cache``: ``close()``
    closes both pools.
    """

    def __init__(
        self,
        database_url: str,
        *,
        cache: Cache | None = None,
        ttl: float = DEFAULT_CACHE_TTL,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        max_connections: int = 10,
        pool_timeout: float = 5.0,
        reconnect_timeout: float = 10.0,
        cache_retry_interval: float = 1.0,
        description: str = "the registry database",
        local_cache_size: int = DEFAULT_LOCAL_CACHE_SIZE,
        libpq: Mapping[str, str] = NO_LIBPQ,
        prepared_statements: bool = False,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        # First, before anything is opened: an unparsable URL is an InvalidSetting here,
        # not libpq's message (which quotes the password) at every reconnection attempt.
        options = connection_options(
            database_url,
            prepared_statements=prepared_statements,
            libpq=libpq,
            connect_timeout=max(1, int(pool_timeout)),
        )
        size = local_cache_size
        self.ttl = ttl
        self._libpq = libpq  # the PG* variables libpq reads: PGPASSWORD is redacted too
        # Metrics before anything is opened: a registry that has them already fails here.
        self._local: LocalCache | None = None
        self._results = None if metrics is None else self._register_metrics(metrics)
        self.cache = cache
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
            kwargs=options,
            timeout=pool_timeout,
            reconnect_timeout=reconnect_timeout,
            name="registry-lookup",
            open=False,
        )
        self._pool.open(wait=False)
        self._fills: queue.Queue[Fill | None] = queue.Queue(maxsize=FILL_QUEUE_SIZE)
        self._filler: threading.Thread | None = None
        self._filler_lock = threading.Lock()
        # Last: the tracking thread must not outlive a constructor that failed.
        self._local = LocalCache(cache, size) if cache is not None and size > 0 else None

    def _register_metrics(self, registry: CollectorRegistry) -> dict[str, Any]:
        from prometheus_client import Counter, Gauge

        lookups = Counter(
            "registry_lookups",
            "Router lookups by result: the tier that answered a ready route (local_hit, "
            "redis_hit, database), not_found, not_ready, or error (no tier could answer).",
            ["result"],
            registry=registry,
        )
        Gauge(
            "registry_local_cache_entries",
            "Routes held in the router's in-process cache.",
            registry=registry,
        ).set_function(lambda: len(self._local) if self._local is not None else 0)
        return {result: lookups.labels(result) for result in RESULTS}

    @classmethod
    def from_settings(cls, settings: Settings, **options) -> Resolver:
        """DATABASE_URL (or the embedded default), REDIS_URL, REGISTRY_CACHE_TTL and
        REGISTRY_LOCAL_CACHE_SIZE: ``Resolver.from_settings(Settings.from_env())``."""
        from .db import resolve_target

        target = resolve_target(settings)
        return cls(
            target.url,
            cache=Cache.from_settings(settings),
            ttl=settings.cache_ttl,
            local_cache_size=settings.local_cache_size,
            description=target.description,
            libpq=target.libpq,
            prepared_statements=target.prepared_statements,
            **options,
        )

    @property
    def stats(self) -> LookupStats:
        local = self._local
        with self._stats_lock:
            counts = dict(self._counts)
        if local is not None:
            counts.update(
                local_hits=local.hits,
                tracking_losses=local.losses,
                tracking_unsubscribed=local.unsubscribed,
                local_entries=len(local),
            )
        return LookupStats(**counts)

    @property
    def local_cache_active(self) -> bool:
        """Whether the in-process tier is answering (tracking established)."""
        return self._local is not None and self._local.active

    def _count(self, name: str, number: int = 1) -> None:
        with self._stats_lock:
            self._counts[name] += number

    def resolve(self, model_name: str, environment: str) -> Route:
        """The route of a ready model; raises ModelNotFound or ModelNotReady."""
        return self.resolve_with_source(model_name, environment)[0]

    def resolve_with_source(self, model_name: str, environment: str) -> tuple[Route, str]:
        """``resolve``, and the tier that answered: "local", "redis" or "database"."""
        results = self._results
        try:
            route, source = self._lookup(model_name, environment)
        except DatabaseUnavailable:
            if results is not None:
                results["error"].inc()
            raise
        if route is None:
            if results is not None:
                results["not_found"].inc()
            raise ModelNotFound(model_name)
        if route.status != Status.READY:
            if results is not None:
                results["not_ready"].inc()
            raise ModelNotReady(model_name, route.status)
        if results is not None:
            results[_RESULT_OF_SOURCE[source]].inc()
        return route, source

    def _lookup(self, model_name: str, environment: str) -> tuple[Route | None, str | None]:
        key = cache_key(environment, model_name)
        local = self._local
        if local is not None:
            # Before the name checks: only a checked lookup stores a key, and a key names
            # one (environment, model) pair (names have no ':'), so a hit needs no check.
            route = local.get(key)
            if route is not ABSENT:
                return route, "local"
            epoch = local.epoch  # before the Redis read: a push after it refuses the store
        names.check_environment(environment)
        # Request input that cannot be a registered name is unknown: no cache key, no query.
        if not names.is_model_name(model_name):
            return None, None
        cache = self.cache if time.monotonic() >= self._cache_skip_until else None
        generation = None
        if cache is not None:
            try:
                raw, generation = cache.read(environment, model_name)
            except CacheUnavailable:
                self._cache_failed()
                cache = None
            else:
                if raw is not None:
                    try:
                        route = decode(raw, environment, model_name)
                    except ValueError:
                        self._count("cache_invalid")  # refilled below, like any miss
                    else:
                        self._count("cache_hits")
                        if local is not None:
                            local.store(key, route, epoch)
                        return route, "redis"
                self._count("cache_misses")
        route = self._query(model_name, environment)
        ttl = self.ttl if route is not None else self.negative_ttl
        if cache is not None and ttl > 0:
            self._queue_fill((environment, model_name, encode(route), generation, ttl))
        return route, "database"

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
            except Exception:  # CacheUnavailable, or a bug: this thread must go on (flush waits)
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
            except psycopg.OperationalError as error:
                if not _did_not_answer(error):
                    raise
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

    def _unavailable(self, error: psycopg.Error) -> DatabaseUnavailable:
        self._count("database_errors")
        from .db import redact

        text = str(error).strip()
        first = text.splitlines()[0] if text else type(error).__name__
        reason = redact(first, self._pool.conninfo, self._libpq)
        if _did_not_answer(error):
            return DatabaseUnavailable(
                f"registry lookup failed: {self.description} did not answer ({reason}). "
                "Check that PostgreSQL is running and DATABASE_URL is right; lookups recover "
                "by themselves once it is back"
            )
        return DatabaseUnavailable(
            f"registry lookup failed: {self.description} answered with an error "
            f"({error.sqlstate}: {reason}). Check that its schema is up to date "
            "(`registry db migrate`) and that the router's role may read "
            "model_registry_entries (a member of registry_reader)"
        )

    def close(self) -> None:
        """Finish the queued fills (a one-shot caller still leaves its fill), then close."""
        if self._local is not None:
            self._local.close()
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


def _did_not_answer(error: psycopg.Error) -> bool:
    """No answer (connection lost, refused, timed out, server shutting down), as
    opposed to an error the server answered with (no table, no permission, ...)."""
    sqlstate = error.sqlstate
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


_default: Resolver | None = None
_default_lock = threading.Lock()


def resolve(model_name: str, environment: str) -> Route:
    """``Resolver.from_settings(Settings.from_env()).resolve``, with one Resolver shared by
    the whole process (the environment is read once, by the first call)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Resolver.from_settings(Settings.from_env())
    return _default.resolve(model_name, environment)
