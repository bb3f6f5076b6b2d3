"""The controller's Prometheus metrics, and the HTTP server for them and its probes.

Interface (what the controller uses)::

    from reconciler.controller.metrics import Metrics, MetricsServer

    metrics = Metrics()                                   # its own CollectorRegistry
    metrics.entries("production", {"ready": 9, "pending": 1})   # absent statuses read 0
    metrics.transition("production", "ready", "pending")
    metrics.probe_failed("production")
    metrics.watch_restarted("deployments")                # kind: deployments | services
    with metrics.reconciling():                           # one reconcile cycle, timed
        ...
    metrics.observed("production")                        # the cluster was seen now
    metrics.leader(True)                                  # on_started / on_stopped_leading

    server = MetricsServer(metrics, readiness=lambda: (synced, "caches synced"), port=9402)
    server.start()                # MetricsError if the port is taken; port=0 picks one
    server.port                   # the bound port
    server.close()

``GET /metrics`` is the Prometheus text format; ``/healthz`` answers 200 while the
process serves; ``/readyz`` answers 200 when ``readiness()`` returns ``(True, reason)``
and 503 with the reason otherwise. prometheus_client is imported here only when a
``Metrics`` is made, so other commands do not pay for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from registry.errors import MetricsError
from registry.vocabulary import Status

DEFAULT_PORT = 9402
Readiness = Callable[[], tuple[bool, str]]

log = logging.getLogger(__name__)


class Metrics:
    """The registry_* series of the controller, on a private registry."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # the *_created series double every counter; nobody reads them
        self.registry = CollectorRegistry()
        on = {"registry": self.registry}
        self._entries = Gauge(
            "registry_entries", "Registry entries by status.", ["environment", "status"], **on
        )
        self._transitions = Counter(
            "registry_health_transitions",
            "Status changes the controller wrote.",
            ["environment", "from_status", "to_status"],
            **on,
        )
        self._probe_failures = Counter(
            "registry_probe_failures",
            "GET /v1/models probes that failed or named other models.",
            ["environment"],
            **on,
        )
        self._watch_restarts = Counter(
            "registry_kube_watch_restarts",
            "Kubernetes watches started again (410 Gone, dropped stream, error, resync).",
            ["kind"],
            **on,
        )
        self._reconcile = Histogram(
            "registry_reconcile_duration_seconds", "Duration of one reconcile cycle.", **on
        )
        self._observed = Gauge(
            "registry_last_observation_timestamp_seconds",
            "Unix time the cluster state of the environment was last observed.",
            ["environment"],
            **on,
        )
        self._leader = Gauge("registry_leader", "1 while this replica is the leader.", **on)

    def entries(self, environment: str, counts: Mapping[str, int]) -> None:
        for status in Status.values():
            self._entries.labels(environment, status).set(counts.get(status, 0))

    def transition(self, environment: str, from_status: str, to_status: str) -> None:
        self._transitions.labels(environment, from_status, to_status).inc()

    def probe_failed(self, environment: str) -> None:
        self._probe_failures.labels(environment).inc()

    def watch_restarted(self, kind: str) -> None:
        self._watch_restarts.labels(kind).inc()

    @contextmanager
    def reconciling(self) -> Iterator[None]:
        with self._reconcile.time():
            yield

    def observed(self, environment: str, at: float | None = None) -> None:
        self._observed.labels(environment).set(time.time() if at is None else at)

    def leader(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)

    def render(self) -> tuple[bytes, str]:
        """The exposition and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsServer:
    """/metrics, /healthz and /readyz on a ThreadingHTTPServer in a daemon thread."""

    def __init__(
        self,
        metrics: Metrics,
        readiness: Readiness,
        *,
        host: str = "0.0.0.0",  # all interfaces: Prometheus and the kubelet use the pod IP
        port: int = DEFAULT_PORT,
    ) -> None:
        self.metrics, self.readiness = metrics, readiness
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> MetricsServer:
        try:
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        except OSError as error:
            raise MetricsError(
                f"cannot serve metrics on {self.host}:{self.port} ({error.strerror or error}). "
                "Pass a free port with --metrics-port"
            ) from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str) -> tuple[int, bytes, str]:
        """Status, body and content type for ``GET path``."""
        if path == "/metrics":
            return (200, *self.metrics.render())
        if path == "/healthz":
            return 200, b"ok\n", "text/plain; charset=utf-8"
        if path == "/readyz":
            try:
                ready, reason = self.readiness()
            except Exception as error:  # a bug in the check: not ready, and say why
                log.exception("readiness check failed")
                ready, reason = False, f"readiness check failed: {error}"
            body = f"{reason}\n".encode()
            return (200 if ready else 503), body, "text/plain; charset=utf-8"
        return 404, b"not found: try /metrics, /healthz or /readyz\n", "text/plain; charset=utf-8"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # scrapes every few seconds: no log
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body, content_type = server.answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the scraper gave up: nothing to do

        return Handler
