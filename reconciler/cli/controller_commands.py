"""`registry controller`: parse the flags, then run ``reconciler.controller`` until SIGTERM."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from reconciler.observe import DEFAULT_TIMEOUT
from reconciler.views import Format
from registry import names
from registry.errors import InvalidOption

from .app import CONTROLLER, app
from .common import (
    Kubeconfig,
    RequestTimeout,
    format_choice,
    kube_source,
    limit_between,
    seconds_up_to,
)
from .session import current


class ProbeVia(enum.StrEnum):
    direct = "direct"
    proxy = "proxy"


DAY = 86400.0


def _seconds(what: str, *, zero: bool = False) -> dict:
    """A number of seconds from the flag or REGISTRY_<WHAT>, checked like every option."""
    return {
        "metavar": "SECONDS",
        "envvar": "REGISTRY_" + what.upper().replace(" ", "_"),
        "parser": seconds_up_to(DAY, what, zero=zero),
    }


@app.command(rich_help_panel=CONTROLLER)
def controller(
    environment: Annotated[
        list[str] | None,
        typer.Option(
            "--environment",
            "-e",
            help="Environment to reconcile; repeat for several (env: REGISTRY_ENVIRONMENTS, "
            "comma-separated).",
            show_default=False,
        ),
    ] = None,
    resync: Annotated[
        float,
        typer.Option(
            help="Seconds between full re-lists, whatever the watches say.", **_seconds("resync")
        ),
    ] = 300.0,
    probe_interval: Annotated[
        float,
        typer.Option(
            help="Seconds between GET /v1/models checks of each endpoint.",
            **_seconds("probe interval"),
        ),
    ] = 30.0,
    probe_timeout: Annotated[
        float, typer.Option(help="Seconds a probe may take.", **_seconds("probe timeout"))
    ] = 2.0,
    probe_via: Annotated[
        ProbeVia | None,
        typer.Option(
            help="direct: http://ENDPOINT; proxy: the API server's service proxy "
            "(default: direct in a pod, proxy with a kubeconfig).",
            envvar="REGISTRY_PROBE_VIA",
            show_default=False,
        ),
    ] = None,
    no_probe: Annotated[
        bool,
        typer.Option(
            "--no-probe",
            help="Trust Kubernetes health alone; no GET /v1/models.",
            envvar="REGISTRY_NO_PROBE",
        ),
    ] = False,
    mass_unroute_confirm: Annotated[
        float,
        typer.Option(
            help="Seconds a mass unroute (over half an environment's ready entries) must be "
            "observed before it is written (0: at once).",
            **_seconds("mass unroute confirm", zero=True),
        ),
    ] = 60.0,
    lease_name: Annotated[
        str,
        typer.Option(help="Name of the leader election Lease.", envvar="REGISTRY_LEASE_NAME"),
    ] = "vllm-model-registry-controller",
    lease_namespace: Annotated[
        str | None,
        typer.Option(
            help="Namespace of the Lease (default: the pod's namespace, else system).",
            envvar="REGISTRY_LEASE_NAMESPACE",
        ),
    ] = None,
    no_leader_election: Annotated[
        bool,
        typer.Option(
            "--no-leader-election",
            help="Write without a Lease (one replica only).",
            envvar="REGISTRY_NO_LEADER_ELECTION",
        ),
    ] = False,
    metrics_port: Annotated[
        int,
        typer.Option(
            help="Port of /metrics, /healthz and /readyz (0: any free port).",
            envvar="REGISTRY_METRICS_PORT",
            parser=limit_between(0, 65535, "metrics port"),
        ),
    ] = 9402,
    log_format: Annotated[
        Format,
        typer.Option(
            help="Log lines as text or JSON.",
            click_type=format_choice((Format.text, Format.json)),
            metavar="<text|json>",
            envvar="REGISTRY_LOG_FORMAT",
        ),
    ] = Format.text,
    kube_context: Annotated[
        str | None,
        typer.Option(
            help="kubeconfig context (default: the current context).",
            envvar="REGISTRY_KUBE_CONTEXT",
            show_default=False,
        ),
    ] = None,
    kubeconfig: Kubeconfig = None,
    request_timeout: RequestTimeout = DEFAULT_TIMEOUT,
) -> None:
    """Keep enabled entries ready or pending as the cluster and their endpoints say."""
    from reconciler import controller as reconciler_controller

    environ = current().settings
    wanted = environment or list(environ.environments)
    if not wanted:
        raise InvalidOption(
            "no environment to reconcile: pass --environment E (repeat it for several) or set "
            "REGISTRY_ENVIRONMENTS=production,staging"
        )
    for name in wanted:
        names.check_environment(name)
    names.check_object_name(lease_name, "lease name")
    if lease_namespace is not None:
        names.check_namespace(lease_namespace)
    reconciler_controller.run(
        reconciler_controller.Settings(
            environments=tuple(dict.fromkeys(wanted)),
            resync=resync,
            probe_interval=probe_interval,
            probe_timeout=probe_timeout,
            probe_via=probe_via.value if probe_via else None,
            probe=not no_probe,
            mass_unroute_confirm=mass_unroute_confirm,
            lease_name=lease_name,
            lease_namespace=lease_namespace,
            leader_election=not no_leader_election,
            metrics_port=metrics_port,
            kube_context=kube_context,
            kube_source=kube_source(kubeconfig, request_timeout),
            listen_url=environ.listen_url,
            log_format=log_format.value,
        ),
        environ,
    )
