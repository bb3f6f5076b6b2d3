"""Kubernetes in the CLI: the shared options, observing once per plan, and `registry health`."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from registry import names
from registry.errors import ClusterError

from .app import ROUTER, app
from .common import Environment, open_registry, out
from .controller_commands import ProbeVia
from .session import current, notice

if TYPE_CHECKING:
    from reconciler.health import Health
    from reconciler.liveness import Check
    from reconciler.observe import KubeSource
    from reconciler.reconcile import HealthFor
    from registry.entry import Entry

KubeContext = Annotated[
    str | None,
    typer.Option(
        "--kube-context",
        help="kubeconfig context to observe (default: the manifest's spec.kube.context, "
        "else the current context).",
    ),
]
NoKube = Annotated[
    bool,
    typer.Option("--no-kube", help="Do not look at Kubernetes: health Unknown, enabled = ready."),
]


def observe(
    entries: Sequence[Entry], *, context: str | None, skip: bool = False, required: bool = False
) -> Mapping[str, Health] | None:
    """``operations.observe``, its notes said once on stderr."""
    from reconciler import operations

    return operations.observe(
        entries,
        source=kube_source(),
        context=context,
        skip=skip,
        required=required,
        notify=notice,
    )


def health_for(*, kube_context: str | None, no_kube: bool) -> HealthFor:
    """``operations.health_for``, its notes said once on stderr."""
    from reconciler import operations

    return operations.health_for(
        source=kube_source(), kube_context=kube_context, no_kube=no_kube, notify=notice
    )


def kube_source() -> KubeSource:
    """Where this command's cluster configuration comes from (KUBECONFIG, in a pod)."""
    from reconciler.observe import KubeSource

    return KubeSource.from_settings(current().settings)


def replicas_text(health: Health) -> str:
    return f"{health.ready_replicas or 0}/{health.replicas or 0} replicas ready"


class HealthFormat(enum.StrEnum):
    table = "table"
    json = "json"


@app.command(rich_help_panel=ROUTER)
def health(
    environment: Environment,
    model_name: Annotated[
        str | None,
        typer.Option(
            "--model-name",
            "-m",
            help="Model to check; without it, every entry of the environment is compared "
            "with the cluster (exit 0 all agree, 2 some disagree).",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = names.DEFAULT_NAMESPACE,
    endpoint: Annotated[
        str | None, typer.Option(help="host:port of the Service (default: the naming convention).")
    ] = None,
    kube_context: KubeContext = None,
    output: Annotated[HealthFormat, typer.Option("--format", "-o", help="Output format.")] = (
        HealthFormat.table
    ),
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Without --model-name: no GET /v1/models checks.")
    ] = False,
    probe_via: Annotated[
        ProbeVia | None,
        typer.Option(
            help="How endpoints are probed (default: direct in a pod, proxy with a kubeconfig).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a model's Deployment and Service (exit 0 Healthy, 1 not), or a whole environment.

    Without --model-name: every entry's registry status beside its live health and
    GET /v1/models answer, and whether they agree (exit 0 all agree, 2 not, 1 error).
    """
    from reconciler import observe as kube
    from reconciler import operations
    from reconciler.render import to_json

    if model_name is None:
        names.check_environment(environment)
        checks = operations.environment_health(
            open_registry(),
            environment,
            source=kube_source(),
            context=kube_context,
            probe_via=None if no_probe else (probe_via.value if probe_via else ""),
            api_key=current().settings.vllm_api_key,
        )
        out(render_checks(checks, output))
        if not all(c.agrees for c in checks):
            raise typer.Exit(2)
        return

    names.check_target(model_name, environment, namespace)
    if endpoint is not None:
        names.parse_endpoint(endpoint)
    entry = operations.target_entry(model_name, environment, namespace, endpoint)
    status = kube.kubeconfig_status(kube_source())
    if status is not None:
        raise ClusterError(
            f"cannot check the health of {model_name}: {status}. Set KUBECONFIG, or run "
            "where a cluster is configured"
        )
    seen = kube.observe_health([entry], source=kube_source(), context=kube_context)[model_name]
    deployment = names.service_name(model_name, environment)
    if output is HealthFormat.json:
        out(
            to_json(
                {
                    "model_name": model_name,
                    "environment": environment,
                    "namespace": namespace,
                    "endpoint": entry.endpoint,
                    "deployment": deployment,
                    "health": seen.status,
                    "reason": seen.reason,
                    "ready_replicas": seen.ready_replicas,
                    "replicas": seen.replicas,
                    "checked_at": seen.checked_at,
                }
            )
        )
    else:
        detail = seen.reason if seen.reason else replicas_text(seen)
        out(f"{deployment} (namespace {namespace}): {seen.status}, {detail}")
    if not seen.healthy:
        raise typer.Exit(1)


def render_checks(checks: Sequence[Check], output: HealthFormat) -> str:
    from reconciler.render import table, to_json

    if output is HealthFormat.json:
        return to_json(
            [
                {
                    "model_name": c.entry.model_name,
                    "status": c.entry.status,
                    "health": c.health,
                    "probe": c.probe,
                    "expected_status": c.expected,
                    "agrees": c.agrees,
                    "reason": c.reason,
                }
                for c in checks
            ]
        )
    rows = [
        (
            c.entry.model_name,
            c.entry.status,
            c.health,
            c.probe or "-",
            "yes" if c.agrees else f"NO (should be {c.expected})",
            c.reason or "",
        )
        for c in checks
    ]
    disagree = sum(not c.agrees for c in checks)
    head = f"{len(checks)} entr{'y' if len(checks) == 1 else 'ies'}, {disagree} disagree"
    columns = ("Model Name", "Status", "Health", "Probe", "Agrees", "Reason")
    return f"{head}\n\n{table(columns, rows)}"
