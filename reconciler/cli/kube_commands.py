"""Kubernetes in the CLI: the shared options, observing once per plan, and `registry health`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler import views
from reconciler.observe import DEFAULT_TIMEOUT
from reconciler.views import Format
from registry import names
from registry.errors import ClusterError

from .app import ROUTER, app
from .common import (
    Environment,
    Kubeconfig,
    RequestTimeout,
    emit,
    kube_source,
    open_registry,
    output_option,
)
from .controller_commands import ProbeVia
from .session import current, notice

if TYPE_CHECKING:
    from reconciler.health import Health
    from reconciler.observe import KubeSource
    from reconciler.reconcile import HealthFor
    from registry.entry import Entry

KubeContext = Annotated[
    str | None,
    typer.Option(
        "--kube-context",
        help="kubeconfig context to observe (default: the manifest's spec.kube.context, "
        "else the current context).",
        envvar="REGISTRY_KUBE_CONTEXT",
        show_default=False,
    ),
]
NoKube = Annotated[
    bool,
    typer.Option(
        "--no-kube",
        help="Do not look at Kubernetes: health Unknown, enabled = ready.",
        envvar="REGISTRY_NO_KUBE",
    ),
]


def observe(
    entries: Sequence[Entry],
    *,
    source: KubeSource,
    context: str | None,
    skip: bool = False,
    required: bool = False,
) -> Mapping[str, Health] | None:
    """``operations.observe``, its notes said once on stderr."""
    from reconciler import operations

    return operations.observe(
        entries,
        source=source,
        context=context,
        skip=skip,
        required=required,
        notify=notice,
    )


def health_for(*, source: KubeSource, kube_context: str | None, no_kube: bool) -> HealthFor:
    """``operations.health_for``, its notes said once on stderr."""
    from reconciler import operations

    return operations.health_for(
        source=source, kube_context=kube_context, no_kube=no_kube, notify=notice
    )


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
    kubeconfig: Kubeconfig = None,
    request_timeout: RequestTimeout = DEFAULT_TIMEOUT,
    output: Annotated[Format, output_option(views.CHECKS)] = Format.table,
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

    source = kube_source(kubeconfig, request_timeout)
    if model_name is None:
        names.check_environment(environment)
        checks = operations.environment_health(
            open_registry(),
            environment,
            source=source,
            context=kube_context,
            probe_via=None if no_probe else (probe_via.value if probe_via else ""),
            api_key=current().settings.vllm_api_key,
        )
        emit(views.CHECKS, checks, output)
        if not all(c.agrees for c in checks):
            raise typer.Exit(2)
        return

    names.check_target(model_name, environment, namespace)
    if endpoint is not None:
        names.parse_endpoint(endpoint)
    entry = operations.target_entry(model_name, environment, namespace, endpoint)
    status = kube.kubeconfig_status(source)
    if status is not None:
        raise ClusterError(
            f"cannot check the health of {model_name}: {status}. Set KUBECONFIG, or run "
            "where a cluster is configured"
        )
    seen = kube.observe_health([entry], source=source, context=kube_context)[model_name]
    deployment = names.service_name(model_name, environment)
    emit(views.MODEL_HEALTH, views.ModelHealth(entry, deployment, seen), output)
    if not seen.healthy:
        raise typer.Exit(1)
