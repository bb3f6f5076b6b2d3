"""Operations: what a command or the controller does, as library calls.

The CLI parses flags and renders; the controller loops; both call these. They
take values (a connection, a cache, how to observe the cluster) and return
values; they never print: what an operator should hear while one runs goes to
the ``notify`` callback the caller passes, and errors are ``RegistryError``s
carrying the message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry import names, store
from registry.entry import Entry
from registry.errors import RegistryError

from . import liveness
from .apply import ApplyResult, apply_current
from .health import Health
from .plan import Change, Observation, Plan, change_for

if TYPE_CHECKING:
    import psycopg

    from registry.cache import Cache

    from .manifest import Manifest
    from .reconcile import HealthFor

Notify = Callable[[str], None]  # a line for the operator while an operation runs
PROBE_TIMEOUT = 2.0  # seconds, for `registry health --environment`
CONTROLLER = "controller"  # the audit actor of liveness moves


class DeploymentUnhealthy(RegistryError):
    """The model's deployment is not serving, so it must not become routable."""


# --- observing the cluster ----------------------------------------------------------------


def observe(
    entries: Sequence[Entry],
    *,
    context: str | None,
    skip: bool = False,
    required: bool = False,
    notify: Notify,
) -> Mapping[str, Health] | None:
    """Health of ``entries``, or None when observation is skipped.

    Skipped with ``skip`` (--no-kube), and when no cluster is configured at all,
    which is told to ``notify``, unless ``required`` (an explicit --kube-context):
    then it is an error.
    """
    from . import observe as kube

    if skip:
        return None
    status = kube.kubeconfig_status()
    if status is not None:
        if required:
            raise kube.ClusterError(
                f"--kube-context {context} was given but {status}. Set KUBECONFIG to the file "
                "that defines the context, or pass --no-kube to skip health checks"
            )
        notify(f"kubernetes: {status}; health is not checked (Unknown)")
        return None
    return kube.observe_health(entries, context=context)


def health_for(*, kube_context: str | None, no_kube: bool, notify: Notify) -> HealthFor:
    """How `plan` and `apply` observe a manifest's enabled models (reconcile.HealthFor).

    ``kube_context`` wins over the manifest's ``spec.kube.context``; disabled
    models are not observed, since nothing routes to them.
    """

    def observe_manifest(
        manifest: Manifest, desired: Sequence[Entry]
    ) -> Mapping[str, Health] | None:
        enabled = [entry for entry in desired if entry.status == "ready"]
        return observe(
            enabled,
            context=kube_context or manifest.kube_context,
            skip=no_kube,
            required=kube_context is not None,
            notify=notify,
        )

    return observe_manifest


def target_entry(model_name: str, environment: str, namespace: str, endpoint: str | None) -> Entry:
    """The entry a command about one model observes (endpoint default: the convention)."""
    endpoint = endpoint or names.convention_endpoint(model_name, environment, namespace)
    return Entry(model_name, environment, namespace, endpoint)


def require_healthy(entry: Entry, health: Health) -> None:
    """Raise ``DeploymentUnhealthy`` (what is wrong, what to do) unless ``health`` is Healthy."""
    if health.healthy:
        return
    deployment = names.service_name(entry.model_name, entry.environment)
    raise DeploymentUnhealthy(
        f"deployment {deployment} in namespace {entry.namespace} is not healthy "
        f"({health.status}: {health.reason}), so {entry.model_name} was not registered and "
        f"nothing was written. Check it with `kubectl rollout status deployment/{deployment} "
        f"-n {entry.namespace}`, then run the command again; --no-verify-health registers it "
        "without this check"
    )


# --- imperative commands -------------------------------------------------------------------


def write_one(
    conn: psycopg.Connection,
    environment: str,
    model_name: str,
    build: Callable[[Entry | None, int], Plan],
    *,
    dry_run: bool,
    actor: str | None,
    lock_timeout: float,
    cache: Cache | None,
) -> tuple[Plan, ApplyResult | None]:
    """Plan one entry's change against the registry as it is under the lock, and apply it.

    ``dry_run``: the plan only, against the registry as it is now.
    """

    def make_plan() -> Plan:
        return build(
            store.get_entry(conn, environment, model_name), store.revision(conn, environment)
        )

    if dry_run:
        return make_plan(), None
    result = apply_current(
        conn, environment, make_plan, actor=actor, lock_timeout=lock_timeout, cache=cache
    )
    return result.plan, result


# --- liveness ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """A ready/pending move the controller decided from ``entry`` as it last saw it."""

    entry: Entry
    status: str
    reason: str | None
    health: str


def write_liveness(
    conn: psycopg.Connection,
    environment: str,
    moves: Sequence[Move],
    observations: Sequence[Observation],
    *,
    lock_timeout: float,
    cache: Cache | None,
    plan_id: str,
) -> ApplyResult:
    """Write the controller's moves and observations through the one write path.

    Under the environment's lock, a move is written only while the stored row is
    still what it was decided from (CI may have disabled or repointed it since).
    No revision bump: liveness is not desired state, saved plans stay valid.
    """

    def make_plan() -> Plan:
        changes: list[Change] = []
        for move in moves:
            row = store.get_entry(conn, environment, move.entry.model_name)
            if row is None or not _unchanged(row, move.entry):
                continue
            change = change_for(
                row, row.with_changes(status=move.status, health=move.health), move.reason
            )
            if change is not None:
                changes.append(change)
        return Plan(
            environment=environment,
            base_revision=store.revision(conn, environment),
            changes=tuple(changes),
            observations=tuple(observations),
            plan_id=plan_id,
        )

    return apply_current(
        conn,
        environment,
        make_plan,
        actor=CONTROLLER,
        lock_timeout=lock_timeout,
        cache=cache,
        liveness_only=True,
    )


def _unchanged(row: Entry, seen: Entry) -> bool:
    return (
        liveness.enabled(row.status, row.deregistered)
        and row.status == seen.status
        and row.endpoint == seen.endpoint
        and row.namespace == seen.namespace
    )


def environment_health(
    conn: psycopg.Connection, environment: str, *, context: str | None, probe_via: str | None
) -> list[liveness.Check]:
    """Each entry of ``environment`` beside its live health and probe verdict.

    ``probe_via`` None: no probes; "": the default (direct in a pod, else proxy).
    """
    from . import observe as kube
    from .controller.probe import Prober

    entries = [e for e in store.list_entries(conn, environment=environment) if not e.deregistered]
    status = kube.kubeconfig_status()
    if status is not None:
        raise kube.ClusterError(
            f"cannot compare environment {environment} with the cluster: {status}. Set "
            "KUBECONFIG, or run where a cluster is configured"
        )
    enabled = [e for e in entries if liveness.enabled(e.status, e.deregistered)]
    seen = kube.observe_health(enabled, context=context) if enabled else {}
    probes: dict[str, str] = {}
    healthy = [e for e in enabled if seen[e.model_name].healthy]
    if probe_via is not None and healthy:
        cluster = kube.connect(context)
        prober = Prober(
            via=probe_via or ("direct" if cluster.in_cluster else "proxy"),
            cluster=cluster,
            timeout=PROBE_TIMEOUT,
            api_key=os.environ.get("VLLM_API_KEY"),
        )
        try:
            for (_, model, _), verdict in prober.probe_all(healthy).items():
                if verdict.conclusive:
                    probes[model] = verdict.reason or liveness.PROBE_OK
        finally:
            prober.close()
    checks = []
    for entry in entries:
        live = seen.get(entry.model_name)
        checks.append(
            liveness.check(
                entry,
                live.status if live else "Unknown",
                live.reason if live else None,
                probes.get(entry.model_name),
            )
        )
    return checks
