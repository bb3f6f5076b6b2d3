"""`registry controller`: the registry follows the cluster (docs/architecture.md, "Controller").

CI owns desired state (what is enabled, where it points); the controller owns
liveness: it moves enabled entries between ``ready`` and ``pending`` as their
Deployments, Services and ``GET /v1/models`` answers say, through the one write
path, with audit rows (actor ``controller``) and cache invalidation.

``run(settings)`` is the whole process: it returns when SIGTERM or SIGINT
arrives (after releasing the lease), and raises ``RegistryError`` for a
configuration it cannot start with.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry.errors import ControllerError

if TYPE_CHECKING:
    from registry.settings import Settings as RegistrySettings

    from ..observe import KubeSource

DEFAULT_LEASE_NAME = "vllm-model-registry-controller"
RELEASE_WAIT = 3.0  # seconds SIGTERM waits for the lease release (exit within 5 s)


@dataclass(frozen=True)
class Settings:
    environments: tuple[str, ...]
    resync: float = 300.0
    probe_interval: float = 30.0
    probe_timeout: float = 2.0
    probe_via: str | None = None  # None: direct in a pod, proxy with a kubeconfig
    probe: bool = True
    mass_unroute_confirm: float = 60.0
    lease_name: str = DEFAULT_LEASE_NAME
    lease_namespace: str | None = None  # None: the pod's namespace, else "system"
    leader_election: bool = True
    metrics_port: int = 9402
    kube_context: str | None = None
    kube_source: KubeSource | None = None  # --kubeconfig, --request-timeout; None: the settings'
    listen_url: str | None = None  # REGISTRY_LISTEN_URL: a direct (non-PgBouncer) server
    log_format: str = "text"


def run(settings: Settings, environ: RegistrySettings, stop: threading.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); release the lease on the way out.

    ``environ``: the process's environment variables (DATABASE_URL, REDIS_URL, ...).
    """
    from registry import db
    from registry.cache import Cache

    from .. import observe
    from .changes import RegistryChanges
    from .leader import LeaderElector, default_identity, default_namespace
    from .loop import Loop
    from .metrics import Metrics, MetricsServer
    from .probe import Prober

    configure_logging(settings.log_format)
    log = logging.getLogger(__name__)
    stop = stop or threading.Event()
    source = settings.kube_source or observe.KubeSource.from_settings(environ)
    cluster = observe.connect(source, settings.kube_context)
    if cluster is None:
        raise ControllerError(
            f"the controller needs a cluster: {observe.kubeconfig_status(source)}. Run it in a pod "
            "with a service account (examples/kubernetes/controller.yaml), or set KUBECONFIG"
        )
    target = db.resolve_target(environ)
    db.connect(target).close()  # migrated and reachable, or a clear error now
    cache = Cache.from_settings(environ)
    if cache is None:
        log.warning("REDIS_URL is unset: cache off, nothing to invalidate")
    via = settings.probe_via or ("direct" if cluster.in_cluster else "proxy")
    prober = None
    if settings.probe:
        prober = Prober(
            via=via,
            cluster=cluster,
            timeout=settings.probe_timeout,
            api_key=environ.vllm_api_key,
        )
    metrics = Metrics()
    elector = None
    loop = Loop(
        settings.environments,
        connect=lambda: db.connect(target, prepare_schema=False),
        cluster=cluster,
        cache=cache,
        prober=prober,
        probe_interval=settings.probe_interval,
        resync=settings.resync,
        mass_unroute_confirm=settings.mass_unroute_confirm,
        is_leader=lambda: elector is None or elector.is_leader(),
        metrics=metrics,
    )
    if settings.leader_election:
        elector = LeaderElector(
            cluster.api,
            name=settings.lease_name,
            namespace=settings.lease_namespace or default_namespace(),
            identity=default_identity(),
            on_started_leading=lambda: loop.leadership_changed(True),
            on_stopped_leading=lambda: loop.leadership_changed(False),
        )
    else:
        metrics.leader(True)
    server = MetricsServer(metrics, loop.ready, port=settings.metrics_port).start()
    changes = RegistryChanges(
        settings.environments,
        target=target,
        listen_url=settings.listen_url,
        on_change=loop.registry_changed,
    )
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    log.info(
        "controller for %s (cluster %s, probes %s, %s); metrics on port %d",
        ", ".join(settings.environments),
        cluster.name,
        f"via {via} every {settings.probe_interval:g} s" if prober else "off",
        f"lease {elector.namespace}/{elector.name}" if elector else "no leader election",
        server.port,
    )
    changes.start(stop)
    leading = None
    if elector is not None:
        leading = threading.Thread(target=elector.run, args=(stop,), name="leader", daemon=True)
        leading.start()
    try:
        loop.run(stop)
    finally:
        stop.set()
        if leading is not None:
            leading.join(RELEASE_WAIT)  # run() releases the lease as it returns
        if prober is not None:
            prober.close()
        server.close()
        log.info("controller stopped")


class _JsonFormatter(logging.Formatter):
    EXTRA = ("environment", "model_name", "from_status", "to_status", "reason")

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        doc.update({k: getattr(record, k) for k in self.EXTRA if hasattr(record, k)})
        return json.dumps(doc)


class _TextFormatter(logging.Formatter):
    """One line per record: what the cluster, an endpoint or a driver said is escaped (a
    newline would forge a line, an ESC reach the terminal of `kubectl logs`); a traceback,
    added after, keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        from ..safe_text import escape

        return escape(super().formatMessage(record))


def configure_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("reconciler")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
