"""The GitOps commands: validate, plan, apply and export manifests (docs/architecture.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler import render, views
from reconciler.apply import DEFAULT_LOCK_TIMEOUT
from reconciler.files import write_text
from reconciler.observe import DEFAULT_TIMEOUT
from reconciler.views import Format
from registry.errors import ApplyRefused

from .app import GITOPS, app
from .common import (
    Actor,
    Environment,
    Kubeconfig,
    LockTimeout,
    RequestTimeout,
    ci_job,
    emit,
    kube_source,
    open_cache,
    open_registry,
    output_option,
    report_apply,
    say,
    seconds_up_to,
    warn,
)
from .kube_commands import KubeContext, NoKube, health_for
from .session import current

if TYPE_CHECKING:
    from collections.abc import Sequence

    from reconciler.plan import Plan


DEFAULT_WAIT_TIMEOUT = 300.0


PlanFormat = Annotated[Format, output_option(views.PLANS)]


Paths = Annotated[
    list[Path],
    typer.Argument(
        help="Manifest files, or folders of *.yaml/*.yml manifests.", show_default=False
    ),
]


CodeQuality = Annotated[
    Path | None,
    typer.Option(
        "--codequality", help="Write validation findings as a GitLab Code Quality report."
    ),
]


def _warn_about(plans: Sequence[Plan]) -> None:
    for plan in plans:
        for message in plan.warnings:
            warn(f"{plan.environment}: {message}")
        if plan.mass_removal:
            for line in render.mass_removal_banner(plan):
                say(line)


@app.command(rich_help_panel=GITOPS)
def validate(
    paths: Paths,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Write JUnit XML: one test case per manifest."),
    ] = None,
    codequality: CodeQuality = None,
    output: Annotated[Format, output_option(views.VALIDATION)] = Format.text,
) -> None:
    """Check manifests (no database, no cluster): exit 0 valid, 1 invalid."""
    from reconciler import operations, reports

    result = operations.load(paths, codequality)
    for finding in result.findings:
        say(str(finding))
    if junit is not None:
        # Files refused before reading (a symlink out of a folder) are test cases too.
        paths = dict.fromkeys([*result.files, *(f.path for f in result.findings)])
        by_file = {path: [f for f in result.findings if f.path == path] for path in paths}
        write_text(junit, reports.junit_report(by_file), "JUnit report")
    emit(views.VALIDATION, result, output)
    if not result.ok:
        raise typer.Exit(1)


@app.command(rich_help_panel=GITOPS)
def plan(
    paths: Paths,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Save the plan for `registry apply FILE`.")
    ] = None,
    output: PlanFormat = Format.text,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="Exit 0 without changes, 2 with changes, 1 on error."
        ),
    ] = False,
    gitlab_report: Annotated[
        Path | None,
        typer.Option(
            "--gitlab-report",
            help="Write GitLab's Terraform report (create/update/delete counts) for the "
            "merge request widget.",
        ),
    ] = None,
    codequality: CodeQuality = None,
    kube_context: KubeContext = None,
    no_kube: NoKube = False,
    kubeconfig: Kubeconfig = None,
    request_timeout: RequestTimeout = DEFAULT_TIMEOUT,
) -> None:
    """Show what applying the manifests would change in the registry."""
    from reconciler import operations, reports, saved_plan
    from reconciler.reconcile import plan_manifests

    manifests = operations.manifests(paths, codequality=codequality, notify=say)
    kube = health_for(
        source=kube_source(kubeconfig, request_timeout), kube_context=kube_context, no_kube=no_kube
    )
    plans = plan_manifests(open_registry(), manifests, kube)
    _warn_about(plans)
    emit(views.PLANS, plans, output)
    if out_file is not None:
        saved_plan.write(out_file, plans, key=current().settings.plan_key)
        say(f"Saved the plan to {out_file}: `registry apply {out_file}` applies exactly this plan.")
    if gitlab_report is not None:
        report = render.to_json(reports.terraform_report(plans))
        write_text(gitlab_report, report, "GitLab Terraform report")
    if detailed_exitcode and any(p.has_changes for p in plans):
        raise typer.Exit(2)


@app.command(rich_help_panel=GITOPS)
def show(
    plan_file: Annotated[
        Path, typer.Argument(help="A saved plan from `registry plan --out`.", show_default=False)
    ],
    output: PlanFormat = Format.text,
) -> None:
    """Render a saved plan (as text, JSON or Markdown) without planning again."""
    from reconciler import saved_plan

    emit(views.PLANS, saved_plan.read(plan_file, key=current().settings.plan_key), output)


@app.command("apply", rich_help_panel=GITOPS)
def apply_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Manifest files or folders, or one saved plan (.json) from `plan --out`.",
            show_default=False,
        ),
    ],
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking for confirmation.")
    ] = False,
    allow_mass_removal: Annotated[
        bool,
        typer.Option(
            "--allow-mass-removal",
            help="Apply even when a plan disables or deregisters most of an environment.",
        ),
    ] = False,
    lock_timeout: LockTimeout = DEFAULT_LOCK_TIMEOUT,
    actor: Actor = None,
    kube_context: KubeContext = None,
    no_kube: NoKube = False,
    kubeconfig: Kubeconfig = None,
    request_timeout: RequestTimeout = DEFAULT_TIMEOUT,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Re-check Kubernetes until pending models are healthy, then apply."
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="With --wait: seconds to wait at most (0: check once; at most 86400).",
            envvar="REGISTRY_WAIT_TIMEOUT",
            parser=seconds_up_to(86400, "wait timeout", zero=True),
        ),
    ] = DEFAULT_WAIT_TIMEOUT,
    output: Annotated[
        Format,
        output_option(
            views.APPLIED,
            help="text: the plan before it is applied; json: the plan and what was written, after.",
        ),
    ] = Format.text,
) -> None:
    """Make the registry match the manifests, or apply a saved plan exactly."""
    from reconciler import operations

    prepared = operations.prepare_apply(
        paths,
        connect=open_registry,
        kube=health_for(
            source=kube_source(kubeconfig, request_timeout),
            kube_context=kube_context,
            no_kube=no_kube,
        ),
        wait=wait,
        timeout=timeout,
        auto_approve=auto_approve,
        plan_key=current().settings.plan_key,
        notify=say,
        warn=warn,
    )
    if output is Format.text:
        emit(views.APPLIED, views.Applied(prepared.plans, ()), output)
    _warn_about(prepared.plans)
    operations.refuse_mass_removal(prepared.plans, allowed=allow_mass_removal)
    if prepared.has_changes and not prepared.reviewed:
        if output is not Format.text:  # stdout waits for the result: the plan to review
            for line in render.plans_text(prepared.plans).splitlines():
                say(line)
        _confirm()
    results = operations.apply_prepared(
        prepared,
        actor=actor,
        job=ci_job(),
        lock_timeout=lock_timeout,
        cache=open_cache(),
        allow_mass_removal=allow_mass_removal,
    )
    for result in results:
        report_apply(result)
    if not prepared.has_changes:
        say("No changes to apply.")
    if output is not Format.text:
        emit(views.APPLIED, views.Applied(prepared.plans, results), output)


def _confirm() -> None:

    if not sys.stdin.isatty():
        raise ApplyRefused(
            "refusing to ask for confirmation: stdin is not a terminal. Nothing was written. "
            "Review the plan above and run again with --auto-approve, or save it with "
            "`registry plan --out plan.json` and run `registry apply plan.json`"
        )
    answer = typer.prompt(
        'Apply these changes to the registry? Only "yes" is accepted',
        default="",
        show_default=False,
        err=True,
    )
    if answer.strip() != "yes":
        say("Apply cancelled: nothing was written.")
        raise typer.Exit(1)


@app.command(rich_help_panel=GITOPS)
def export(
    environment: Environment,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the manifest to FILE instead of stdout.")
    ] = None,
    output: Annotated[
        Format,
        output_option(views.EXPORTED, help="text: the manifest as YAML; json: the same as JSON."),
    ] = Format.text,
) -> None:
    """Print the registry of one environment as a manifest (validates, plans no changes)."""
    from reconciler.manifest import export_text
    from registry import names, store

    names.check_environment(environment)
    revision, entries = store.snapshot(open_registry(), environment)
    active = [e for e in entries if not e.deregistered]
    if not active:
        warn(f'environment "{environment}" has no registered models: exporting an empty list')
    exported = views.Exported(environment, export_text(environment, active, revision=revision))
    if out_file is None:
        emit(views.EXPORTED, exported, output)
        return
    write_text(out_file, views.EXPORTED.render(exported, output) + "\n", "manifest")
    say(f'Wrote the manifest of environment "{environment}" to {out_file}.')
