"""Operations: what a command or the controller does, as library calls.

The CLI parses flags and renders; the controller loops; both call these. They
take values (a connection, a cache, how to observe the cluster) and return
values; they never print: what an operator should hear while one runs goes to
the ``notify`` callback the caller passes, and errors are ``RegistryError``s
carrying the message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from registry import names, store, vocabulary
from registry.entry import Entry
from registry.errors import (
    ApplyRefused,
    ClusterError,
    DeploymentUnhealthy,
    ManifestInvalid,
    StaleRevision,
)

from . import liveness
from .apply import ApplyResult, apply_current, apply_plans
from .health import Health
from .plan import Change, Observation, Plan, change_for

if TYPE_CHECKING:
    from pathlib import Path

    import psycopg

    from registry.cache import Cache

    from .audit_fields import CiJob
    from .manifest import LoadResult, Manifest
    from .observe import KubeSource
    from .reconcile import HealthFor

    Observed = Mapping[str, Health] | None  # a manifest's health as HealthFor returned it

Notify = Callable[[str], None]  # a line for the operator while an operation runs
PROBE_TIMEOUT = 2.0  # seconds, for `registry health --environment`
CONTROLLER = "controller"  # the audit actor of liveness moves
WAIT_INTERVAL = 2.0  # seconds between observations while waiting


# --- observing the cluster ----------------------------------------------------------------


def observe(
    entries: Sequence[Entry],
    *,
    source: KubeSource,
    context: str | None,
    skip: bool = False,
    required: bool = False,
    notify: Notify,
) -> Mapping[str, Health] | None:
    """Health of ``entries``, or None when observation is skipped.

    Skipped with ``skip`` (--no-kube), and when no cluster is configured at all,
    which is told to ``notify``, unless ``required`` (an explicit --kube-context or
    --kubeconfig): then it is an error.
    """
    from . import observe as kube

    if skip:
        return None
    status = kube.kubeconfig_status(source)
    if status is not None:
        if required:
            path = kube.quotable_kubeconfig(source)
            given = f"--kube-context {context}" if context else f"--kubeconfig {path or ''}".strip()
            raise ClusterError(
                f"{given} was given but {status}. Pass --kubeconfig (or set KUBECONFIG) to "
                "the file that defines the context, or pass --no-kube to skip health checks"
            )
        notify(f"kubernetes: {status}; health is not checked (Unknown)")
        return None
    return kube.observe_health(entries, source=source, context=context)


def health_for(
    *, source: KubeSource, kube_context: str | None, no_kube: bool, notify: Notify
) -> HealthFor:
    """How `plan` and `apply` observe a manifest's enabled models (reconcile.HealthFor).

    ``kube_context`` wins over the manifest's ``spec.kube.context``; disabled
    models are not observed, since nothing routes to them.
    """

    def observe_manifest(
        manifest: Manifest, desired: Sequence[Entry]
    ) -> Mapping[str, Health] | None:
        enabled = [entry for entry in desired if entry.status == vocabulary.Status.READY]
        return observe(
            enabled,
            source=source,
            context=kube_context or manifest.kube_context,
            skip=no_kube,
            required=kube_context is not None or source.named_by is not None,
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


# --- manifests, plan and apply --------------------------------------------------------------


def load(paths: Sequence[Path], codequality: Path | None = None) -> LoadResult:
    """Load and validate every manifest; the Code Quality report is written either way."""
    from . import render, reports
    from .files import write_text
    from .manifest import load_paths

    result = load_paths(paths)
    if codequality is not None:
        report = reports.codequality_report(result.findings)
        write_text(codequality, render.to_json(report), "Code Quality report")
    return result


def manifests(
    paths: Sequence[Path], *, codequality: Path | None = None, notify: Notify
) -> list[Manifest]:
    """Load and validate; every finding goes to ``notify``; ``ManifestInvalid`` on any error."""
    result = load(paths, codequality)
    for finding in result.findings:
        notify(str(finding))
    if not result.ok:
        raise ManifestInvalid(
            f"{len(result.errors)} error(s) in the manifests (listed above): fix them and run "
            "the command again (`registry validate PATH` checks without touching the registry)",
            tuple(result.errors),
        )
    return list(result.manifests)


def wait_for_health(
    conn: psycopg.Connection,
    manifests: Sequence[Manifest],
    kube: HealthFor,
    timeout: float,
    *,
    notify: Notify,
    warn: Notify,
    interval: float = WAIT_INTERVAL,
) -> list[Plan]:
    """Re-plan until every observed model is Healthy or ``timeout`` s pass; the last plans.

    ``timeout`` 0 plans once. Progress goes to ``notify``, a line only when something
    changed (a model became healthy, or the set of waiting models moved), so a long
    wait over many models stays readable; a timeout goes to ``warn``.
    """
    from .reconcile import plan_manifests

    started = time.monotonic()
    deadline = started + timeout
    plans = plan_manifests(conn, manifests, kube)
    said: list[str] = []  # the waiting models the last line named
    while (waiting := _waiting(plans)) and (left := deadline - time.monotonic()) > 0:
        if waiting != said:
            elapsed = time.monotonic() - started
            healthy = [name for name in said if name not in waiting]
            notify(
                (f"{_some(healthy)} became healthy; w" if healthy else "W")
                + f"aiting for {len(waiting)} deployment(s) to become healthy "
                f"({elapsed:.0f} s elapsed, {left:.0f} s left): {_some(waiting)}"
            )
            said = waiting
        time.sleep(min(interval, left))
        plans = plan_manifests(conn, manifests, kube)
    if waiting and timeout:
        warn(f"--wait timed out after {timeout:g} s; applying {_some(waiting)} as pending")
    elif said:
        elapsed = time.monotonic() - started
        notify(f"All {len(_observed(plans))} deployment(s) are healthy ({elapsed:.0f} s elapsed).")
    return plans


def _some(names: Sequence[str], most: int = 10) -> str:
    """``names`` joined, at most ``most`` of them, then how many more."""
    shown = ", ".join(names[:most])
    return f"{shown} and {len(names) - most} more" if len(names) > most else shown


def _observed(plans: Sequence[Plan]) -> list[Observation]:
    return [seen for plan in plans for seen in plan.observations]


def _waiting(plans: Sequence[Plan]) -> list[str]:
    """Enabled models whose deployment is not Healthy yet (only enabled ones are observed)."""
    return [
        f"{plan.environment}/{seen.model_name}"
        for plan in plans
        for seen in plan.observations
        if seen.health != vocabulary.Health.HEALTHY
    ]


@dataclass(frozen=True)
class PreparedApply:
    """The plans `apply` is about to write, and how it writes them."""

    conn: psycopg.Connection
    plans: list[Plan]
    reviewed: bool  # a saved plan, or --auto-approve: applied without a prompt
    saved: bool  # a saved plan (its file is not trusted): every change re-checked
    replan: Callable[[Plan], Plan] | None  # manifests: planned again under the locks

    @property
    def has_changes(self) -> bool:
        return any(plan.has_changes for plan in self.plans)


def prepare_apply(
    paths: Sequence[Path],
    *,
    connect: Callable[[], psycopg.Connection],
    kube: HealthFor,
    wait: bool,
    timeout: float,
    auto_approve: bool,
    plan_key: bytes | None,
    notify: Notify,
    warn: Notify,
) -> PreparedApply:
    """Plans for `apply`: one saved plan (a single .json path) exactly, or the manifests.

    The registry is connected to (``connect``) only once the input is known to
    be readable and valid.
    """
    from . import saved_plan

    if len(paths) == 1 and paths[0].suffix == ".json":
        # A saved plan was reviewed when it was made, so it is applied without a prompt
        # (as `terraform apply PLANFILE`); its signature, the checks of every change and
        # the revision keep it honest.
        if wait:
            raise ApplyRefused(
                "--wait re-plans from the manifests, but a saved plan is applied exactly as it "
                "was reviewed. Nothing was written. Apply the manifests with --wait, or the "
                "saved plan without it"
            )
        plans = saved_plan.read(paths[0], key=plan_key)
        if plan_key is None:
            warn(
                f"{saved_plan.PLAN_KEY_VARIABLE} is unset, so the origin of {paths[0]} is not "
                "verified (its checksum only catches accidents): set the same key for "
                "`registry plan --out` and `registry apply` to sign and verify saved plans"
            )
        return PreparedApply(connect(), plans, reviewed=True, saved=True, replan=None)
    loaded = manifests(paths, notify=notify)
    conn = connect()
    kube, seen = _remembered(kube)
    plans = wait_for_health(conn, loaded, kube, timeout if wait else 0, notify=notify, warn=warn)
    replan = _replan_under_lock(conn, loaded, seen)
    return PreparedApply(conn, plans, reviewed=auto_approve, saved=False, replan=replan)


def _remembered(kube: HealthFor) -> tuple[HealthFor, dict[str, Observed]]:
    """``kube``, keeping the latest health it saw per environment for the re-plan."""
    seen: dict[str, Observed] = {}

    def observe(manifest: Manifest, desired: Sequence[Entry]) -> Observed:
        seen[manifest.environment] = health = kube(manifest, desired)
        return health

    return observe, seen


def _replan_under_lock(
    conn: psycopg.Connection, manifests: Sequence[Manifest], seen: dict[str, Observed]
) -> Callable[[Plan], Plan]:
    """A shown plan, made again under the environment locks from the same observed health.

    Kubernetes is observed before the locks; the registry is read again under
    them. When another apply committed in between but the changes are still the
    ones shown (and approved), this apply goes ahead instead of failing as stale.
    """
    from .reconcile import plan_manifests

    by_environment = {manifest.environment: manifest for manifest in manifests}

    def replan(shown: Plan) -> Plan:
        manifest = by_environment[shown.environment]
        [plan] = plan_manifests(conn, [manifest], lambda m, desired: seen.get(m.environment))
        if _change_specs(plan) != _change_specs(shown):
            raise StaleRevision(
                f"the registry changed while this plan was made (another apply to environment "
                f"{plan.environment!r}); nothing was written: run apply again to plan against "
                "the new state"
            )
        return replace(plan, plan_id=shown.plan_id)

    return replan


def _change_specs(plan: Plan) -> list[tuple]:
    """What a plan changes, without ids, timestamps or health."""
    return [(c.action, c.before and c.before.spec(), c.after.spec()) for c in plan.changes]


def refuse_mass_removal(plans: Sequence[Plan], *, allowed: bool) -> None:
    """Raise ``ApplyRefused`` when a plan removes most of an environment and that is not
    ``allowed`` (--allow-mass-removal)."""
    removing = [p.environment for p in plans if p.mass_removal]
    if removing and not allowed:
        raise ApplyRefused(
            f"refusing to apply: the plan for {', '.join(removing)} disables or deregisters most "
            "of the environment's ready entries (see above). Nothing was written. If that is "
            "intended, run the command again with --allow-mass-removal"
        )


def apply_prepared(
    prepared: PreparedApply,
    *,
    actor: str | None,
    job: CiJob,
    lock_timeout: float,
    cache: Cache | None,
    allow_mass_removal: bool,
) -> list[ApplyResult]:
    """Write a prepared apply, all environments or none (apply.apply_plans)."""
    return apply_plans(
        prepared.conn,
        prepared.plans,
        actor=actor,
        job=job,
        lock_timeout=lock_timeout,
        cache=cache,
        recheck=prepared.saved,
        allow_mass_removal=allow_mass_removal,
        replan=prepared.replan,
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
    job: CiJob,
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
        conn, environment, make_plan, actor=actor, job=job, lock_timeout=lock_timeout, cache=cache
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
    conn: psycopg.Connection,
    environment: str,
    *,
    source: KubeSource,
    context: str | None,
    probe_via: str | None,
    api_key: str | None,
) -> list[liveness.Check]:
    """Each entry of ``environment`` beside its live health and probe verdict.

    ``probe_via`` None: no probes; "": the default (direct in a pod, else proxy).
    ``api_key`` (VLLM_API_KEY) authenticates the probes.
    """
    from . import observe as kube
    from .controller.probe import Prober

    entries = [e for e in store.list_entries(conn, environment=environment) if not e.deregistered]
    status = kube.kubeconfig_status(source)
    if status is not None:
        raise ClusterError(
            f"cannot compare environment {environment} with the cluster: {status}. Set "
            "KUBECONFIG, or run where a cluster is configured"
        )
    enabled = [e for e in entries if liveness.enabled(e.status, e.deregistered)]
    seen = kube.observe_health(enabled, source=source, context=context) if enabled else {}
    probes: dict[str, str] = {}
    healthy = [e for e in enabled if seen[e.model_name].healthy]
    if probe_via is not None and healthy:
        cluster = kube.connect(source, context)
        prober = Prober(
            via=probe_via or ("direct" if cluster.in_cluster else "proxy"),
            cluster=cluster,
            timeout=PROBE_TIMEOUT,
            api_key=api_key,
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
                live.status if live else vocabulary.Health.UNKNOWN,
                live.reason if live else None,
                probes.get(entry.model_name),
            )
        )
    return checks
