"""The reconcile loop: registry entries + watched cluster + probes -> ready/pending moves.

Threads: one informer per namespace and kind, one follower of registry
changes, one prober (a bounded pool inside). They only record what they saw
and mark namespaces dirty; this loop alone decides and writes, namespace by
namespace, so a quiet cluster costs nothing. Every move goes through the one
write path (``reconciler.apply.apply_current``, without a revision bump) and is
re-checked there under the environment's lock against the stored row, so a
concurrent disable by CI always wins.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from registry import names, store
from registry.entry import Entry
from registry.vocabulary import Health, Status

from .. import liveness, operations
from ..health import model_health
from ..operations import Move
from ..plan import Observation
from .informer import KINDS, Informer
from .metrics import Metrics
from .probe import Probe, Prober

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between looks at held transitions and registry reloads
LOCK_TIMEOUT = 10.0
BATCH = 0.1  # seconds to let a burst of events arrive before deciding
_NEVER = object()  # a probe verdict never recorded


@dataclass(frozen=True)
class Hold:
    """Ready entries the mass-unroute guard keeps routable, and since when."""

    models: frozenset[str]
    since: float


class Loop:
    def __init__(
        self,
        environments: Sequence[str],
        *,
        connect: Callable[[], object],
        cluster,
        cache,
        prober: Prober | None,
        probe_interval: float,
        resync: float,
        mass_unroute_confirm: float,
        is_leader: Callable[[], bool],
        metrics: Metrics,
    ) -> None:
        self.environments = list(environments)
        self.connect = connect
        self.cluster = cluster
        self.cache = cache
        self.prober = prober
        self.probe_interval = probe_interval
        self.resync = resync
        self.confirm = mass_unroute_confirm
        self.is_leader = is_leader
        self.metrics = metrics
        self.conn = None
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.kick = threading.Event()  # the prober has new endpoints to verify
        self.entries: dict[str, dict[str, list[Entry]]] = {}  # env -> namespace -> entries
        self.informers: dict[tuple[str, str], Informer] = {}  # (kind, namespace)
        self.dirty: set[tuple[str, str]] = set()  # (environment, namespace) to reconcile
        self.stale: set[str] = set(self.environments)  # environments to reload from the registry
        self.probes: dict[tuple[str, str, str], Probe] = {}
        self.verify: dict[tuple[str, str, str], Entry] = {}  # Healthy, enabled: probe these
        self.unverified: set[tuple[str, str, str]] = set()
        self.last_health: dict[tuple[str, str], str] = {}
        self.recorded: dict[tuple[str, str], tuple[str, object]] = {}
        self.holds: dict[str, Hold] = {}
        self.unrouted: dict[str, dict[str, float]] = {}  # env -> model -> when we unrouted it
        self.outages: dict[tuple[str, str], int] = {}  # (env, namespace) -> outages seen
        self.database_ok = False
        self.stop = threading.Event()

    # --- what the other threads call --------------------------------------------------------

    def registry_changed(self, environment: str) -> None:
        with self.lock:
            self.stale.add(environment)
        self.wake.set()

    def leadership_changed(self, leading: bool) -> None:
        """A new leader starts from the registry as stored (the old one wrote without bumps)."""
        self.metrics.leader(leading)
        if leading:
            with self.lock:
                self.stale.update(self.environments)
            self.wake.set()

    def _namespace_changed(self, namespace: str) -> None:
        with self.lock:
            self.dirty.update(
                (env, namespace) for env, spaces in self.entries.items() if namespace in spaces
            )
        self.wake.set()

    def ready(self) -> tuple[bool, str]:
        """Caches synced and the database reachable (the /readyz answer)."""
        if not self.database_ok:
            return False, "database not reachable"
        waiting = [f"{k} in {ns}" for (k, ns), i in self.informers.items() if not i.synced]
        if waiting:
            return False, f"not yet listed: {', '.join(sorted(waiting))}"
        return True, "ok"

    # --- the loop -----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self.stop = stop
        if self.prober is not None:
            threading.Thread(target=self._probe_loop, name="prober", daemon=True).start()
        reload_at = time.monotonic() + self.resync
        failure = None
        while not stop.is_set():
            if self.wake.wait(TICK):
                stop.wait(BATCH)  # events come in bursts (a node, a rollout): decide once
            self.wake.clear()
            if stop.is_set():
                break
            if time.monotonic() >= reload_at:  # whatever LISTEN or the poll said
                reload_at = time.monotonic() + self.resync
                with self.lock:
                    self.stale.update(self.environments)
            try:
                self._cycle()
                self.database_ok, failure = True, None
            except Exception as error:  # noqa: BLE001 (keep state, retry next tick)
                if str(error) != failure:  # once per cause, not once a second
                    log.error("reconcile failed, keeping the last known state: %s", error)
                    failure = str(error)
                self.database_ok = False
                self.conn = None
                with self.lock:
                    self.stale.update(self.environments)

    def _cycle(self) -> None:
        if self.conn is None:
            self.conn = self.connect()
        with self.lock:
            stale, self.stale = self.stale, set()
        for environment in sorted(stale):
            self._reload(environment)
        for environment, namespaces in self.entries.items():  # watches alive = observed now
            if all(self._fresh(namespace) for namespace in namespaces):
                self.metrics.observed(environment)
        for environment in self.holds:  # the guard re-checks every tick
            with self.lock:
                self.dirty.update((environment, ns) for ns in self.entries.get(environment, ()))
        with self.lock:
            dirty, self.dirty = self.dirty, set()
        if not dirty:
            return
        by_env: dict[str, list[str]] = defaultdict(list)
        for environment, namespace in dirty:
            by_env[environment].append(namespace)
        with self.metrics.reconciling():
            for environment, namespaces in sorted(by_env.items()):
                self._reconcile(environment, namespaces)

    def _reload(self, environment: str) -> None:
        by_namespace: dict[str, list[Entry]] = defaultdict(list)
        for entry in store.list_entries(self.conn, environment=environment):
            if liveness.enabled(entry.status, entry.deregistered):
                by_namespace[entry.namespace].append(entry)
            self.recorded.setdefault(entry.key, (entry.health, _NEVER))
        with self.lock:
            self.entries[environment] = dict(by_namespace)
            self.dirty.update((environment, ns) for ns in by_namespace)
            kept = {
                (environment, e.model_name, e.endpoint)
                for entries in by_namespace.values()
                for e in entries
            }
            for key in [k for k in self.verify if k[0] == environment and k not in kept]:
                del self.verify[key]  # disabled, deregistered or repointed: stop probing it
        for namespace in by_namespace:
            for kind in KINDS:
                if (kind, namespace) not in self.informers:
                    informer = Informer(
                        self.cluster,
                        kind,
                        namespace,
                        resync=self.resync,
                        on_change=lambda ns=namespace: self._namespace_changed(ns),
                        on_restart=lambda k, why: self._restarted(k, why),
                    )
                    self.informers[(kind, namespace)] = informer
                    informer.start(self.stop)
        self._count(environment)

    def _restarted(self, kind: str, why: str) -> None:
        log.info("re-listing %s: %s", kind, why)
        self.metrics.watch_restarted(kind)

    def _count(self, environment: str) -> None:
        self.metrics.entries(environment, store.status_counts(self.conn, environment))

    # --- deciding -----------------------------------------------------------------------------

    def _reconcile(self, environment: str, namespaces: list[str]) -> None:
        moves: list[Move] = []
        observations: list[Observation] = []
        now = datetime.now(UTC)
        for namespace in namespaces:
            if not self._fresh(namespace):
                continue  # no decisions on missing information
            deployments = self.informers[("deployments", namespace)]
            services = self.informers[("services", namespace)]
            outages = deployments.outages + services.outages
            if self.outages.setdefault((environment, namespace), outages) != outages:
                # Probes through the proxy failed with the API server: verify again.
                self.outages[(environment, namespace)] = outages
                with self.lock:
                    for entry in self.entries.get(environment, {}).get(namespace, ()):
                        self.probes.pop((environment, entry.model_name, entry.endpoint), None)
            for entry in self.entries.get(environment, {}).get(namespace, ()):
                self._decide(entry, deployments.objects, services.objects, now, moves, observations)
        moves = self._guard(environment, moves)
        if (moves or observations) and self.is_leader():
            self._write(environment, moves, observations)

    def _fresh(self, namespace: str) -> bool:
        """Both kinds of the namespace listed and still watched: the state is current."""
        return all(
            (informer := self.informers.get((kind, namespace))) is not None and informer.fresh
            for kind in KINDS
        )

    def _decide(self, entry, deployments, services, now, moves, observations) -> None:
        name = names.service_name(entry.model_name, entry.environment)
        health = model_health(
            deployments.get(name),
            services.get(name),
            name=name,
            namespace=entry.namespace,
            port=names.endpoint_port(entry.endpoint),
        )
        key, probe_key = entry.key, (entry.environment, entry.model_name, entry.endpoint)
        decided, probe_text = True, None
        if health.healthy and self.prober is not None:
            with self.lock:
                if self.last_health.get(key) != Health.HEALTHY:  # (re)verify after each comeback
                    self.probes.pop(probe_key, None)
                self.verify[probe_key] = entry
                probe = self.probes.get(probe_key)
                if probe is None:
                    self.unverified.add(probe_key)
                    self.kick.set()
            if probe is None or not probe.conclusive:
                decided = False
            else:
                probe_text = probe.reason or liveness.PROBE_OK
        else:
            with self.lock:
                self.verify.pop(probe_key, None)
        self.last_health[key] = health.status
        why = liveness.verdict(health.status, health.reason, probe_text)
        status = Status.PENDING if why else Status.READY
        recorded_health, recorded_probe = self.recorded.get(key, (None, _NEVER))
        if health.status != recorded_health or (
            probe_text is not None and probe_text != recorded_probe
        ):
            observations.append(
                Observation(entry.model_name, health.status, now, health.reason, probe_text)
            )
        if decided and status != entry.status:
            moves.append(Move(entry, status, why, health.status))

    def _guard(self, environment: str, moves: list[Move]) -> list[Move]:
        """Hold a mass unroute until the same observation has lasted ``confirm`` seconds.

        Entries this controller unrouted within the last ``confirm`` seconds count too,
        so an outage seen one event at a time is still seen as one outage.
        """
        now = time.monotonic()
        recent = self.unrouted.setdefault(environment, {})
        for model, at in list(recent.items()):
            if now - at >= self.confirm:
                del recent[model]
        unroute = frozenset(m.entry.model_name for m in moves if m.status == Status.PENDING)
        ready = sum(
            e.status == Status.READY
            for entries in self.entries.get(environment, {}).values()
            for e in entries
        )
        going, base = len(unroute | recent.keys()), ready + len(recent.keys() - unroute)
        if not (unroute and going > 1 and 2 * going > base):
            if self.holds.pop(environment, None) is not None:
                log.info("%s: mass unroute no longer observed; nothing held", environment)
            return moves
        hold = self.holds.get(environment)
        if hold is None or hold.models != unroute:
            self.holds[environment] = Hold(unroute, now)
            log.warning(
                "%s: holding %d of %d ready entries routable: this looks like a mass unroute "
                "(%s); they move to pending if it is still observed in %g s",
                environment,
                going,
                base,
                ", ".join(sorted(unroute | recent.keys())),
                self.confirm,
            )
            return [m for m in moves if m.status != Status.PENDING]
        if now - hold.since < self.confirm:
            return [m for m in moves if m.status != Status.PENDING]
        log.warning(
            "%s: mass unroute confirmed for %g s: moving %d entries to pending",
            environment,
            self.confirm,
            len(unroute),
        )
        del self.holds[environment]
        return moves

    # --- writing ------------------------------------------------------------------------------

    def _write(self, environment: str, moves: list[Move], observations: list[Observation]) -> None:
        result = operations.write_liveness(
            self.conn,
            environment,
            moves,
            observations,
            lock_timeout=LOCK_TIMEOUT,
            cache=self.cache,
            plan_id=f"controller-{uuid.uuid4().hex}",
        )
        for o in observations:
            previous = self.recorded.get((environment, o.model_name), (None, _NEVER))[1]
            self.recorded[(environment, o.model_name)] = (
                o.health,
                o.probe if o.probe is not None else previous,
            )
        moved = {c.model_name: c.after for c in result.plan.changes}
        with self.lock:
            for entries in self.entries.get(environment, {}).values():
                entries[:] = [moved.get(e.model_name, e) for e in entries]
        for change in result.plan.changes:
            old, new = change.before.status, change.after.status
            if new == Status.PENDING:
                self.unrouted.setdefault(environment, {})[change.model_name] = time.monotonic()
            self.metrics.transition(environment, old, new)
            log.info(
                "%s/%s: %s -> %s%s",
                environment,
                change.model_name,
                old,
                new,
                f" ({change.reason})" if change.reason else "",
                extra={
                    "environment": environment,
                    "model_name": change.model_name,
                    "from_status": old,
                    "to_status": new,
                    "reason": change.reason,
                },
            )
        if result.cache_error:
            log.warning(
                "cache invalidation pending (%s); retried with the next write", result.cache_error
            )
        if moved:
            self._count(environment)

    # --- probing ------------------------------------------------------------------------------

    def _probe_loop(self) -> None:
        next_round = time.monotonic()
        while not self.stop.is_set():
            self.kick.wait(max(0.0, next_round - time.monotonic()))
            self.kick.clear()
            if self.stop.is_set():
                return
            full = time.monotonic() >= next_round
            with self.lock:
                keys = list(self.verify) if full else list(self.unverified)
                self.unverified.clear()
                targets = [self.verify[k] for k in keys if k in self.verify]
            if full:
                next_round = time.monotonic() + self.probe_interval
            if not targets:
                continue
            results = self.prober.probe_all(targets)
            changed: set[str] = set()
            for key, probe in results.items():
                if not probe.ok:
                    self.metrics.probe_failed(key[0])
                with self.lock:
                    previous = self.probes.get(key)
                    if key in self.verify:
                        self.probes[key] = probe
                if previous != probe:
                    entry = self.verify.get(key)
                    if entry is not None:
                        changed.add(entry.namespace)
                    if not probe.ok:
                        log.info("%s/%s: probe: %s", key[0], key[1], probe.reason)
            for namespace in changed:
                self._namespace_changed(namespace)
