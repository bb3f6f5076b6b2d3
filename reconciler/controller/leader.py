"""Leader election with a ``coordination.k8s.io/v1`` Lease, by client-go's rules.

Interface (what the controller uses)::

    from reconciler import observe
    from reconciler.controller.leader import LeaderElector, Timings, default_identity
    from reconciler.controller.leader import default_namespace

    cluster = observe.connect(source, context)    # same kubeconfig / in-cluster config
    elector = LeaderElector(
        cluster.api,
        name="vllm-model-registry-controller",    # --lease-name
        namespace=default_namespace(),            # --lease-namespace: the pod's, else "system"
        identity=default_identity(),              # hostname_pid_random
        timings=Timings(),                        # lease 15 s, renew deadline 10 s, retry 2 s
        on_started_leading=..., on_stopped_leading=...,   # called from run()'s thread
    )
    threading.Thread(target=elector.run, args=(stop,), daemon=True).start()
    if elector.is_leader(): write(...)            # ask right before EVERY write
    stop.set()                                    # run() releases the lease and returns

The rules, from client-go's tools/leaderelection:
- acquire when there is no Lease, its holder is empty, or its holder has not changed
  the record for ``leaseDurationSeconds`` (the record's own value) by OUR clock since
  we last saw it change: the holder's timestamps are never compared with our clock;
- every write carries the resourceVersion we read (409 Conflict = another replica
  won the race); the leader renews every retry period, first with the record it
  last wrote (no read), then falling back to read-and-update;
- a leader that has not renewed within the renew deadline is not leader: ``is_leader()``
  turns False by the clock alone, even while a request hangs, and at once when a read
  shows another holder. renew deadline < lease duration, so the old leader has
  stopped writing before any standby may take over;
- on stop the lease is released (holder cleared, duration 1 s) so a standby takes
  over at its next retry instead of after the lease duration.

Unlike client-go, losing the lease is not the end of ``run()``: it calls
``on_stopped_leading`` and goes back to standing by.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.errors import LeaderElectionError

DEFAULT_NAME = "vllm-model-registry-controller"
DEFAULT_NAMESPACE = "system"
NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
RELEASE_TIMEOUT = 2.0  # seconds for giving the lease up: SIGTERM must exit within 5 s
JITTER = 1.2  # client-go's JitterFactor: standbys retry after 1 to 2.2 retry periods

log = logging.getLogger(__name__)


class _Failed(Exception):
    """One request to the API server failed; the message says how."""


@dataclass(frozen=True)
class Timings:
    """client-go's LeaseDuration, RenewDeadline and RetryPeriod, in seconds."""

    lease_duration: int = 15  # whole seconds: the Lease stores leaseDurationSeconds
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not (
            isinstance(self.lease_duration, int)
            and self.lease_duration > self.renew_deadline > JITTER * self.retry_period > 0
        ):
            raise LeaderElectionError(
                f"invalid leader election timings (lease {self.lease_duration} s, renew "
                f"deadline {self.renew_deadline:g} s, retry {self.retry_period:g} s): the lease "
                f"duration must be whole seconds and exceed the renew deadline, which must "
                f"exceed {JITTER:g} times the retry period; otherwise two replicas could both "
                "act as leader"
            )


def default_namespace(path: Path = NAMESPACE_FILE) -> str:
    """The pod's namespace (from its service account), else ``system``."""
    try:
        return path.read_text().strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE


def default_identity() -> str:
    """Unique per process, and says which pod it is: ``hostname_pid_random``."""
    return f"{socket.gethostname()}_{os.getpid()}_{secrets.token_hex(4)}"


def _micro_time() -> str:
    """Now as a Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One replica's side of the election for the Lease ``namespace/name``."""

    def __init__(
        self,
        api: Any,  # kubernetes.client.ApiClient, e.g. observe.connect().api
        *,
        name: str = DEFAULT_NAME,
        namespace: str = DEFAULT_NAMESPACE,
        identity: str,
        timings: Timings = Timings(),
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
        release_on_cancel: bool = True,
    ) -> None:
        from kubernetes import client

        self.leases = client.CoordinationV1Api(api)
        self.name, self.namespace, self.identity = name, namespace, identity
        self.timings = timings
        self.on_started_leading = on_started_leading
        self.on_stopped_leading = on_stopped_leading
        self.release_on_cancel = release_on_cancel
        self._lock = threading.Lock()
        self._observed: dict[str, Any] | None = None  # the Lease as last read or written
        self._observed_at = 0.0  # monotonic time its spec last changed, to our knowledge
        self._renewed_at: float | None = None  # when our last successful write began
        self._last_failure: str | None = None
        self._release_by: float | None = None  # while releasing: when requests must end

    # --- asking ----------------------------------------------------------------------------

    def is_leader(self) -> bool:
        """True while this replica holds the lease and renewed it within the renew deadline."""
        with self._lock:
            return self._leading()

    def _leading(self) -> bool:
        return (
            self._renewed_at is not None
            and self._holder() == self.identity
            and time.monotonic() < self._renewed_at + self.timings.renew_deadline
        )

    def holder(self) -> str | None:
        """The holder identity last seen on the Lease (None: none seen, or released)."""
        with self._lock:
            return self._holder() or None

    def _holder(self) -> str:
        return ((self._observed or {}).get("spec") or {}).get("holderIdentity") or ""

    # --- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Stand by, lead, renew, stand by again ... until ``stop`` is set; then release."""
        try:
            while not stop.is_set():
                if not self.try_acquire_or_renew():
                    stop.wait(self.timings.retry_period * (1 + random.random() * JITTER))
                    continue
                log.info("became leader (lease %s/%s)", self.namespace, self.name)
                if self.on_started_leading:
                    self.on_started_leading()
                while not stop.wait(self.timings.retry_period):
                    self.try_acquire_or_renew()
                    if not self.is_leader():  # a late success does not count: renew again
                        break
                if not stop.is_set():
                    log.warning(
                        "stopped leading: lease %s/%s not renewed within %g s (holder now %s)",
                        self.namespace,
                        self.name,
                        self.timings.renew_deadline,
                        self.holder() or "unknown",
                    )
                    self._stop_leading()
        finally:
            was_leading = self.is_leader()
            if self.release_on_cancel:
                self.release()
            if was_leading:
                self._stop_leading()

    def _stop_leading(self) -> None:
        with self._lock:
            self._renewed_at = None
        if self.on_stopped_leading:
            self.on_stopped_leading()

    def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lease (client-go's tryAcquireOrRenew)."""
        began = time.monotonic()
        now = _micro_time()
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.timings.lease_duration,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        try:
            with self._lock:
                leading, observed = self._leading(), self._observed
            if leading:  # fast path: update the record we wrote last time, without a read
                try:
                    return self._wrote(began, self._replace(observed, {**spec, **_kept(observed)}))
                except _Failed as failure:
                    log.debug("optimistic renew failed (%s); reading the lease", failure)
            lease = self._read()
            if lease is None:
                return self._wrote(began, self._create(spec))
            holder = self._see(lease)
            if holder and holder != self.identity and self._valid():
                return False
            if holder == self.identity:
                spec.update(_kept(lease))
            else:
                spec["leaseTransitions"] = _kept(lease)["leaseTransitions"] + 1
            return self._wrote(began, self._replace(lease, spec))
        except _Failed as failure:
            if str(failure) != self._last_failure:
                log.warning("lease %s/%s: %s", self.namespace, self.name, failure)
            self._last_failure = str(failure)
            return False

    def release(self, timeout: float = RELEASE_TIMEOUT) -> bool:
        """Stop leading at once and hand the lease over (client-go's release).

        True when the lease no longer names this replica afterwards. Gives up after
        ``timeout`` seconds (the lease then runs out by itself).
        """
        with self._lock:
            self._renewed_at = None  # no write of ours may follow this line
            self._release_by = time.monotonic() + timeout
        try:
            lease = self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return True
            now = _micro_time()
            released = {
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": _kept(lease)["leaseTransitions"],
            }
            self._see(self._replace(lease, released))
            log.info("released lease %s/%s", self.namespace, self.name)
            return True
        except _Failed as failure:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, failure)
            return False
        finally:
            with self._lock:
                self._release_by = None

    # --- bookkeeping -------------------------------------------------------------------------

    def _see(self, lease: dict[str, Any]) -> str:
        """Remember ``lease``; restart the expiry clock if its record changed. Its holder."""
        with self._lock:
            if lease.get("spec") != (self._observed or {}).get("spec"):
                self._observed_at = time.monotonic()
            self._observed = lease
            return self._holder()

    def _valid(self) -> bool:
        """The observed holder's lease has not run out by our clock."""
        with self._lock:
            duration = (self._observed or {}).get("spec", {}).get("leaseDurationSeconds") or 0
            return time.monotonic() < self._observed_at + duration

    def _wrote(self, began: float, lease: dict[str, Any]) -> bool:
        with self._lock:
            self._observed, self._observed_at = lease, time.monotonic()
            self._renewed_at = began  # the server saw the write after we began it
        if self._last_failure:
            log.info("lease %s/%s: written again", self.namespace, self.name)
        self._last_failure = None
        return True

    # --- the API server ----------------------------------------------------------------------

    def _timeout(self) -> float:
        """A request may not outlive our leadership (the renew deadline) nor a release."""
        with self._lock:
            if self._release_by is not None:
                return max(self._release_by - time.monotonic(), 0.1)
            if self._renewed_at is None:
                return self.timings.renew_deadline
            left = self._renewed_at + self.timings.renew_deadline - time.monotonic()
        return max(left, 0.1)

    def _read(self) -> dict[str, Any] | None:
        try:
            return self._call(self.leases.read_namespaced_lease, self.name, self.namespace)
        except _NotFound:
            return None

    def _create(self, spec: dict[str, Any]) -> dict[str, Any]:
        metadata = {"name": self.name, "namespace": self.namespace}
        body = {**_LEASE, "metadata": metadata, "spec": spec}
        return self._call(self.leases.create_namespaced_lease, self.namespace, body)

    def _replace(self, lease: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            "name": self.name,
            "namespace": self.namespace,
            "resourceVersion": lease["metadata"]["resourceVersion"],
        }
        body = {**_LEASE, "metadata": metadata, "spec": spec}
        return self._call(self.leases.replace_namespaced_lease, self.name, self.namespace, body)

    def _call(self, method: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """One request, its JSON answer; ``_NotFound`` on 404, ``_Failed`` on anything else."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, _request_timeout=self._timeout())
            return json.loads(response.data)
        except ApiException as error:
            if error.status == 404 and method == self.leases.read_namespaced_lease:
                raise _NotFound from None
            raise _Failed(_refusal(error)) from None
        except (HTTPError, OSError, ValueError) as error:
            unreachable = f"the API server is unreachable ({type(error).__name__}: {error})"
            raise _Failed(unreachable) from None


class _NotFound(Exception):
    """There is no such Lease."""


_LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}


def _kept(lease: dict[str, Any] | None) -> dict[str, Any]:
    """What a renewal by the same holder keeps: when it was acquired, how often it moved."""
    spec = (lease or {}).get("spec") or {}
    kept = {"leaseTransitions": spec.get("leaseTransitions") or 0}
    if spec.get("acquireTime"):
        kept["acquireTime"] = spec["acquireTime"]
    return kept


def _refusal(error: Any) -> str:
    try:
        message = json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        message = str(error.reason or "no reason given")
    if error.status == 409:
        return f"another replica wrote the lease first (409: {message})"
    if error.status in (401, 403):
        return (
            f"the API server refused ({error.status}: {message}); grant the controller's "
            "service account get, create and update on leases in coordination.k8s.io "
            "(see examples/kubernetes/controller.yaml)"
        )
    return f"the API server answered {error.status} ({message})"
