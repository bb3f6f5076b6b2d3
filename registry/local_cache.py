"""The router's in-process tier: routes held in memory, dropped when Redis says so.

Redis server-assisted client-side caching keeps the copies coherent. One
dedicated connection (RESP2, so any Redis from 6.0 and Valkey) runs
``CLIENT TRACKING on REDIRECT <its own id> BCAST PREFIX model_registry:`` and
subscribes to ``__redis__:invalidate``: from then on Redis pushes the name of
every ``model_registry:`` key that changes, whoever changes it (apply's outbox
sync, `registry cache invalidate`, ``redis-cli DEL``, expiry), and a null for
FLUSHDB/FLUSHALL. A thread reads the pushes and drops those keys.

Only values read from Redis are kept: Redis then tracks the key, so any later
change of it is pushed. Three rules make the tier never staler than Redis:

- An invalidation that lands between a lookup's Redis read and its store wins:
  the reader bumps an epoch with every push (and when tracking goes down or comes
  back), and a store is refused if the epoch moved since before the read.
- While tracking is not established the tier is empty and bypassed; the thread
  reconnects with backoff. A connection that stops answering its PING is dropped.
- A local hit is answered only when the tracking socket has nothing unread and
  the reader is not handling a push: once a push has reached this host, the copy
  is not served even if the reader thread is still waiting for the GIL or the CPU.
- With a Sentinel REDIS_URL the connection goes to the master the Sentinels name.
  The old master may keep answering for seconds after a failover before Sentinel
  demotes it, and it would push nothing of the writes the new master takes. So a
  second connection, opened before the tracking one, subscribes to the first
  Sentinel that takes it to ``+switch-master``: once it announces a new master of
  our service, tracking is dropped and set up again on the new one. A hit is
  answered only while that socket has nothing unread either (one poll over both).
  A Sentinel publishes ``+switch-master`` just before its SENTINEL MASTERS names
  the new master, and that is how redis-py (so every writer of this project)
  finds the master: a write that reached the new master through the same
  Sentinel (redis-py asks the first that answers) was made after the
  announcement reached this host, and no lookup after it gets an old copy.
  (``+failover-state-reconf-slaves``, ``+odown`` and ``-failover-abort-*`` change
  no master that redis-py names, so they are not followed.) The reader still asks
  the Sentinels every health interval: the backstop for a subscription that fell
  silent, for a writer that asked another Sentinel (which may learn of the
  failover first), and for tracking without a subscription (no Sentinel took it:
  counted in ``unsubscribed``).
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from . import redis_url
from .entry import KEY_PREFIX

if TYPE_CHECKING:
    from .cache import Cache, Route

CHANNEL = "__redis__:invalidate"
# Seconds without traffic before the reader sends a PING, and again before it gives up.
HEALTH_INTERVAL = 1.0
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0

ABSENT = object()  # get(): nothing usable here (None is the cached "not found")


class LocalCache:
    """A bounded LRU of routes by cache key, invalidated by Redis; thread-safe."""

    def __init__(self, cache: Cache, size: int, *, health_interval: float = HEALTH_INTERVAL):
        self.size = size
        self.health_interval = health_interval
        self.hits = 0
        self.losses = 0  # times tracking was lost or could not be set up
        # Times tracking was set up with a Sentinel URL but no Sentinel subscription:
        # a failover is then noticed only by asking, up to a health interval late.
        self.unsubscribed = 0
        self._cache = cache
        self._entries: OrderedDict[str, Route | None] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0
        self._active = False  # tracking established: the tier may answer
        self._draining = False  # the reader is taking pushes off the socket
        self._fds: tuple[int, ...] = ()  # tracking's socket, then the Sentinel subscription's
        self._polls = threading.local()  # one poll object per thread: poll() is not reentrant
        self._connection = None
        self._subscription = None  # to a Sentinel's +switch-master
        self._stopped = threading.Event()
        self._reader = threading.Thread(target=self._run, name="registry-tracking", daemon=True)
        self._reader.start()

    @property
    def active(self) -> bool:
        """Whether tracking is established (otherwise every lookup bypasses this tier)."""
        return self._active

    @property
    def epoch(self) -> int:
        """Read before a Redis read; hand it to ``store`` with what was read."""
        return self._epoch

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Route | None | object:
        """The route (or None: not found) held for ``key``, or ABSENT."""
        # Sockets first, then the flag: a push the reader took off a socket after this
        # poll has its flag set until the key (or, after a failover, every key) is gone.
        if not self._active or self._unread() or self._draining:
            return ABSENT
        with self._lock:
            value = self._entries.get(key, ABSENT)
            if value is not ABSENT:
                self._entries.move_to_end(key)
                self.hits += 1
        return value

    def store(self, key: str, route: Route | None, epoch: int) -> bool:
        """Keep ``route`` read from Redis, unless an invalidation ran since ``epoch``."""
        with self._lock:
            if not self._active or epoch != self._epoch:
                return False
            self._entries[key] = route
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return True

    def _unread(self) -> bool:
        polls, fds = self._polls, self._fds
        if getattr(polls, "fds", None) is not fds:  # a new tuple with every connect
            polls.poll = select.poll()
            for fd in fds:
                polls.poll.register(fd, select.POLLIN)
            polls.fds = fds
        return bool(polls.poll.poll(0))

    def _invalidate(self, keys: list[bytes] | None) -> None:
        with self._lock:
            self._epoch += 1
            if keys is None:  # FLUSHDB / FLUSHALL
                self._entries.clear()
            else:
                for key in keys:
                    self._entries.pop(key.decode("utf-8", "replace"), None)

    def _set_active(self, active: bool) -> None:
        with self._lock:
            self._epoch += 1
            self._active = active
            self._entries.clear()
        self._draining = False  # a read that failed left it set: nothing is served until here

    def _run(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stopped.is_set():
            try:
                self._connect()
                backoff = FIRST_BACKOFF
                self._read()
            except Exception:  # any failure means the same: not tracking, so not serving
                pass
            was_active = self._active
            self._set_active(False)
            self._disconnect()
            if self._stopped.is_set():
                return
            if was_active or backoff == FIRST_BACKOFF:
                self.losses += 1
            self._stopped.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _connect(self) -> None:
        pool = self._cache.client.connection_pool
        # Subscribed before the master is asked for: a failover in between is announced.
        try:
            self._subscription = redis_url.failover_subscription(pool)  # None: direct URL
            refused = False
        except Exception:  # track anyway: asking the Sentinels every health interval remains
            refused = True
        # RESP2 whatever the client library's default: a RESP2 subscriber receives the
        # redirected pushes on every server that has tracking.
        # No client-side health check: its PING would read a subscriber's reply as an error.
        options = {**pool.connection_kwargs, "protocol": 2, "health_check_interval": 0}
        connection = pool.connection_class(**options)
        self._connection = connection
        connection.connect()
        connection.send_command("CLIENT", "ID")
        own_id = connection.read_response()
        connection.send_command(
            "CLIENT", "TRACKING", "on", "REDIRECT", own_id, "BCAST", "PREFIX", KEY_PREFIX
        )
        if connection.read_response() not in (b"OK", "OK"):
            raise ConnectionError("CLIENT TRACKING was refused")
        connection.send_command("SUBSCRIBE", CHANNEL)
        connection.read_response()  # the subscribe confirmation
        # Polled by lookups; redis-py has no accessor.
        watched = () if self._subscription is None else (self._subscription._sock.fileno(),)
        self._fds = (connection._sock.fileno(), *watched)
        self._set_active(True)
        if refused:
            self.unsubscribed += 1

    def _read(self) -> None:
        connection, subscription = self._connection, self._subscription
        tracking = self._fds[0]
        poll = select.poll()
        for fd in self._fds:
            poll.register(fd, select.POLLIN)
        waiting_for_pong = False
        next_check = time.monotonic() + self.health_interval
        while not self._stopped.is_set():
            if time.monotonic() >= next_check:
                self._check_master(connection)
                next_check = time.monotonic() + self.health_interval
            ready = {fd for fd, _ in poll.poll(self.health_interval * 1000)}
            if ready:
                # Not reset when a read fails: _set_active(False) does, once the tier is empty.
                self._draining = True
                if tracking in ready:
                    self._drain(connection, self._handle)
                    waiting_for_pong = False
                if ready - {tracking}:
                    self._drain(subscription, self._handle_announcement)
                self._draining = False
            elif waiting_for_pong:
                raise TimeoutError("the tracking connection did not answer PING")
            else:
                connection.send_command("PING")
                waiting_for_pong = True

    @staticmethod
    def _drain(connection, handle) -> None:
        while True:
            handle(connection.read_response())
            if not connection.can_read(0):  # redis-py may hold more than the socket
                break

    def _check_master(self, connection) -> None:
        master = redis_url.current_master(self._cache.client.connection_pool)
        if master is not None and master != (connection.host, connection.port):
            raise ConnectionError("Sentinel names another master: tracking moves to it")

    def _handle(self, reply: object) -> None:
        if isinstance(reply, list) and len(reply) == 3 and reply[0] in (b"message", "message"):
            self._invalidate(reply[2])

    def _handle_announcement(self, reply: object) -> None:
        if redis_url.announces_failover(self._cache.client.connection_pool, reply):
            raise ConnectionError("a Sentinel announced a new master: tracking moves to it")

    def _disconnect(self) -> None:
        connections = (self._connection, self._subscription)
        self._connection = self._subscription = None
        for connection in connections:
            if connection is not None:
                with contextlib.suppress(Exception):  # already broken: nothing left to release
                    connection.disconnect()

    def close(self) -> None:
        self._stopped.set()
        self._set_active(False)
        self._disconnect()  # wakes the reader: its socket is shut down
        self._reader.join(5)
