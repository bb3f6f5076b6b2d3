"""The imperative commands operators know from admin-cli, on the one write path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from reconciler import views
from reconciler.apply import DEFAULT_LOCK_TIMEOUT
from reconciler.observe import DEFAULT_TIMEOUT as DEFAULT_KUBE_TIMEOUT
from reconciler.plan import Plan
from reconciler.views import Format
from registry import names
from registry.vocabulary import Action, Status

from .app import OPERATOR, app, db_app
from .common import (
    Actor,
    DryRun,
    Environment,
    EnvironmentFilter,
    Kubeconfig,
    LockTimeout,
    ModelName,
    ModelNameFilter,
    RequestTimeout,
    ci_job,
    emit,
    kube_source,
    limit_between,
    open_cache,
    open_registry,
    output_option,
    report_apply,
    say,
    warn,
)
from .kube_commands import KubeContext, observe


def _write(
    model_name: str,
    environment: str,
    build: Callable[..., Plan],
    *,
    dry_run: bool,
    output: Format,
    actor: str | None,
    lock_timeout: float,
) -> None:
    """Plan one entry's change against the current registry, apply it, report it."""
    from reconciler import operations

    plan, result = operations.write_one(
        open_registry(),
        environment,
        model_name,
        build,
        dry_run=dry_run,
        actor=actor,
        job=ci_job(),
        lock_timeout=lock_timeout,
        cache=None if dry_run else open_cache(),
    )
    for message in plan.warnings:
        warn(message)
    if not plan.has_changes:
        result = None  # nothing was written
        say(f'No changes: the registry for environment "{plan.environment}" already holds this.')
    if result is not None:
        report_apply(result)
    emit(views.WRITTEN, views.Written(plan, result, dry_run), output)
    if dry_run and plan.has_changes:
        say("Dry run: nothing was written.")


WriteFormat = Annotated[Format, output_option(views.WRITTEN)]
NoHeaders = Annotated[
    bool, typer.Option("--no-headers", help="Table and CSV without the header lines.")
]


@app.command(rich_help_panel=OPERATOR)
def register(
    model_name: ModelName,
    environment: Environment,
    endpoint: Annotated[
        str | None,
        typer.Option(help="host:port of the Service (default: the naming convention)."),
    ] = None,
    namespace: Annotated[str, typer.Option(help="Kubernetes namespace.")] = names.DEFAULT_NAMESPACE,
    dry_run: DryRun = False,
    output: WriteFormat = Format.table,
    actor: Actor = None,
    lock_timeout: LockTimeout = DEFAULT_LOCK_TIMEOUT,
    no_verify_health: Annotated[
        bool,
        typer.Option(
            "--no-verify-health", help="Register without checking the deployment in Kubernetes."
        ),
    ] = False,
    kube_context: KubeContext = None,
    kubeconfig: Kubeconfig = None,
    request_timeout: RequestTimeout = DEFAULT_KUBE_TIMEOUT,
) -> None:
    """Register a model deployment so the router can find it.

    When a cluster is configured, the Deployment and Service must be healthy
    first; otherwise nothing is written and the command fails (exit 1).
    """
    from dataclasses import replace

    from reconciler import operations, operator
    from reconciler.plan import observations

    names.check_target(model_name, environment, namespace)
    if endpoint is not None:
        names.parse_endpoint(endpoint)
    health = None
    if not no_verify_health:
        entry = operations.target_entry(model_name, environment, namespace, endpoint)
        health = observe(
            [entry],
            source=kube_source(kubeconfig, request_timeout),
            context=kube_context,
            required=kube_context is not None or kubeconfig is not None,
        )
        if health is not None:
            operations.require_healthy(entry, health[model_name])
            say(f"Deployment is healthy ({views.replicas_text(health[model_name])}).")

    def build(current, revision):
        plan = operator.register(
            current,
            revision,
            model_name=model_name,
            environment=environment,
            namespace=namespace,
            endpoint=endpoint,
        )
        return replace(plan, observations=observations(health))

    _write(
        model_name,
        environment,
        build,
        dry_run=dry_run,
        output=output,
        actor=actor,
        lock_timeout=lock_timeout,
    )


def _status_command(action: Action, help_text: str) -> None:
    def command(
        model_name: ModelName,
        environment: Environment,
        dry_run: DryRun = False,
        output: WriteFormat = Format.table,
        actor: Actor = None,
        lock_timeout: LockTimeout = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        from reconciler import operator

        names.check_target(model_name, environment)

        def build(current, revision):
            return operator.set_status(
                current, revision, model_name=model_name, environment=environment, action=action
            )

        _write(
            model_name,
            environment,
            build,
            dry_run=dry_run,
            output=output,
            actor=actor,
            lock_timeout=lock_timeout,
        )

    command.__doc__ = help_text
    app.command(name=action.value, rich_help_panel=OPERATOR)(command)


_status_command(Action.ENABLE, "Enable a disabled model for routing.")
_status_command(Action.DISABLE, "Disable a model temporarily (the entry stays).")
_status_command(
    Action.DEREGISTER, "Remove a model from routing: status disabled, deregistered_at set."
)


@app.command("list", rich_help_panel=OPERATOR)
def list_entries(
    environment: EnvironmentFilter = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only entries with this status: " + ", ".join(Status.values()) + "."),
    ] = None,
    model_name: ModelNameFilter = None,
    output: Annotated[Format, output_option(views.ENTRIES)] = Format.table,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Show at most this many entries (1 to 1000000), oldest first.",
            parser=limit_between(1, 1_000_000),
            metavar="N",
            show_default=False,
        ),
    ] = None,
    no_headers: NoHeaders = False,
) -> None:
    """List registered model deployments."""
    from registry import store
    from registry.errors import RegistryError

    if status is not None and not Status.has(status):
        raise RegistryError(f"invalid status {status!r}: use one of {', '.join(Status.values())}")
    entries = store.list_entries(
        open_registry(), environment=environment, status=status, model_name=model_name, limit=limit
    )
    emit(views.ENTRIES, entries, output, headers=not no_headers)


@app.command(rich_help_panel=OPERATOR)
def history(
    environment: EnvironmentFilter = None,
    model_name: ModelNameFilter = None,
    limit: Annotated[
        int,
        typer.Option(
            help="Most recent records to show (1 to 10000).",
            metavar="N",
            parser=limit_between(1, 10000),
        ),
    ] = 50,
    output: Annotated[Format, output_option(views.HISTORY)] = Format.table,
    no_headers: NoHeaders = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the audit log's hash chain and print each environment's head: exit 1 "
            "naming the first bad row.",
        ),
    ] = False,
    expect_head: Annotated[
        list[str] | None,
        typer.Option(
            "--expect-head",
            metavar="ENV=HASH",
            help="With --verify: a head printed by an earlier verify (kept outside the "
            "database) that must still be in ENV's chain; repeat for several.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show the audit log: who changed what, when, from which commit."""
    from registry import store

    if verify or expect_head:
        expected = dict(_expected_head(value) for value in expect_head or ())
        checked = store.verify_audit_chain(open_registry(), expected)
        emit(views.CHAIN, checked, Format.json if output is Format.json else Format.table)
        return
    records = store.history(
        open_registry(), environment=environment, model_name=model_name, limit=limit
    )
    emit(views.HISTORY, records, output, headers=not no_headers)


def _expected_head(value: str) -> tuple[str, str]:
    import re

    from reconciler.safe_text import excerpt
    from registry.errors import RegistryError

    environment, _, chain_hash = value.partition("=")
    if not re.fullmatch("[0-9a-fA-F]{64}", chain_hash):
        raise RegistryError(
            f"invalid --expect-head {excerpt(value)}: use ENV=HASH with the 64 hexadecimal "
            "digits `registry history --verify` printed for the environment"
        )
    return names.check_environment(environment), chain_hash.lower()


@db_app.command("migrate")
def db_migrate(
    output: Annotated[Format, output_option(views.MESSAGE)] = Format.text,
) -> None:
    """Apply pending schema migrations (also done on connect unless REGISTRY_AUTO_MIGRATE=0)."""
    from registry import migrate

    applied = migrate.migrate(open_registry(prepare_schema=False))
    for migration in applied:
        say(f"applied migration {migration.version:04d}_{migration.name}")
    latest = migrate.available()[-1]
    text = f"database schema is at version {latest.version:04d} ({latest.name}), up to date."
    data = {
        "applied": [f"{m.version:04d}_{m.name}" for m in applied],
        "version": latest.version,
        "name": latest.name,
    }
    emit(views.MESSAGE, views.Message(text, data), output)
