"""The GitOps commands: validate, plan, apply and export manifests (design.md 3 and 7)."""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler import render
from reconciler.apply import DEFAULT_LOCK_TIMEOUT
from reconciler.files import write_text
from registry.errors import RegistryError, StaleRevision

from .app import GITOPS, app
from .common import (
    Actor,
    Environment,
    LockTimeout,
    open_cache,
    open_registry,
    out,
    report_apply,
    say,
    warn,
)
from .kube_commands import KubeContext, NoKube, health_for

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import psycopg

    from reconciler.health import Health
    from reconciler.manifest import LoadResult, Manifest
    from reconciler.plan import Plan
    from reconciler.reconcile import HealthFor
    from registry.entry import Entry

    Observed = Mapping[str, Health] | None  # a manifest's health as HealthFor returned it


DEFAULT_WAIT_TIMEOUT = 300.0
WAIT_INTERVAL = 2.0  # seconds between observations while waiting


class PlanFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


PLAN_RENDERERS = {
    PlanFormat.text: render.plans_text,
    PlanFormat.json: render.plan_json,
    PlanFormat.markdown: render.plan_markdown,
}


class ApplyRefused(RegistryError):
    """`apply` will not go ahead without an explicit decision from the operator."""


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


def _load(paths: list[Path], codequality: Path | None) -> LoadResult:
    """Load and validate every manifest; the Code Quality report is written either way."""
    from reconciler import reports
    from reconciler.manifest import load_paths

    result = load_paths(paths)
    if codequality is not None:
        report = reports.codequality_report(result.findings)
        write_text(codequality, render.to_json(report), "Code Quality report")
    return result


def _manifests(paths: list[Path], codequality: Path | None = None) -> list[Manifest]:
    """Load and validate; report every finding on stderr; raise when any is an error."""
    from reconciler.manifest import ManifestInvalid

    result = _load(paths, codequality)
    for finding in result.findings:
        say(str(finding))
    if not result.ok:
        raise ManifestInvalid(
            f"{len(result.errors)} error(s) in the manifests (listed above): fix them and run "
            "the command again (`registry validate PATH` checks without touching the registry)"
        )
    return list(result.manifests)


def _plan(conn: psycopg.Connection, manifests: list[Manifest], kube: HealthFor) -> list[Plan]:
    """Desired state + registry (+ cluster) -> plans: the single step `plan` and `apply` share."""
    from reconciler.reconcile import plan_manifests

    return plan_manifests(conn, manifests, kube)


def _waiting(plans: list[Plan]) -> list[str]:
    """Enabled models whose deployment is not Healthy yet (only enabled ones are observed)."""
    return [
        f"{plan.environment}/{seen.model_name}"
        for plan in plans
        for seen in plan.observations
        if seen.health != "Healthy"
    ]


def _wait_for_health(
    conn: psycopg.Connection, manifests: list[Manifest], kube: HealthFor, timeout: float
) -> list[Plan]:
    """Re-plan until every observed model is Healthy or ``timeout`` s pass; the last plans."""
    deadline = time.monotonic() + timeout
    plans = _plan(conn, manifests, kube)
    while (waiting := _waiting(plans)) and (left := deadline - time.monotonic()) > 0:
        say(
            f"Waiting for {len(waiting)} deployment(s) to become healthy ({left:.0f} s left): "
            f"{', '.join(waiting)}"
        )
        time.sleep(min(WAIT_INTERVAL, left))
        plans = _plan(conn, manifests, kube)
    if waiting and timeout:
        warn(f"--wait timed out after {timeout:g} s; applying {', '.join(waiting)} as pending")
    return plans


def _remembered(kube: HealthFor) -> tuple[HealthFor, dict[str, Observed]]:
    """``kube``, keeping the latest health it saw per environment for the re-plan."""
    seen: dict[str, Observed] = {}

    def observe(manifest: Manifest, desired: Sequence[Entry]) -> Observed:
        seen[manifest.environment] = health = kube(manifest, desired)
        return health

    return observe, seen


def _replan_under_lock(
    conn: psycopg.Connection, manifests: list[Manifest], seen: dict[str, Observed]
) -> Callable[[Plan], Plan]:
    """A shown plan, made again under the environment locks from the same observed health.

    Kubernetes is observed before the locks; the registry is read again under
    them. When another apply committed in between but the changes are still the
    ones shown (and approved), this apply goes ahead instead of failing as stale.
    """
    by_environment = {manifest.environment: manifest for manifest in manifests}

    def replan(shown: Plan) -> Plan:
        manifest = by_environment[shown.environment]
        [plan] = _plan(conn, [manifest], lambda m, desired: seen.get(m.environment))
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


def _warn_about(plans: list[Plan]) -> None:
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
) -> None:
    """Check manifests (no database, no cluster): exit 0 valid, 1 invalid."""
    from reconciler import reports

    result = _load(paths, codequality)
    for finding in result.findings:
        out(str(finding))
    if junit is not None:
        # Files refused before reading (a symlink out of a folder) are test cases too.
        paths = dict.fromkeys([*result.files, *(f.path for f in result.findings)])
        by_file = {path: [f for f in result.findings if f.path == path] for path in paths}
        write_text(junit, reports.junit_report(by_file), "JUnit report")
    counts = f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
    if not result.ok:
        say(f"{len(result.files)} manifest file(s) checked: invalid, {counts}.")
        raise typer.Exit(1)
    say(f"{len(result.files)} manifest file(s) valid ({counts}).")


@app.command(rich_help_panel=GITOPS)
def plan(
    paths: Paths,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Save the plan for `registry apply FILE`.")
    ] = None,
    output: Annotated[PlanFormat, typer.Option("--format", "-o", help="Output format.")] = (
        PlanFormat.text
    ),
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
) -> None:
    """Show what applying the manifests would change in the registry."""
    from reconciler import reports, saved_plan

    manifests = _manifests(paths, codequality)
    plans = _plan(
        open_registry(), manifests, health_for(kube_context=kube_context, no_kube=no_kube)
    )
    _warn_about(plans)
    out(PLAN_RENDERERS[output](plans))
    if out_file is not None:
        saved_plan.write(out_file, plans)
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
    output: Annotated[PlanFormat, typer.Option("--format", "-o", help="Output format.")] = (
        PlanFormat.text
    ),
) -> None:
    """Render a saved plan (as text, JSON or Markdown) without planning again."""
    from reconciler import saved_plan

    out(PLAN_RENDERERS[output](saved_plan.read(plan_file)))


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
    wait: Annotated[
        bool,
        typer.Option(
            "--wait", help="Re-check Kubernetes until pending models are healthy, then apply."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="With --wait: seconds to wait at most.")
    ] = DEFAULT_WAIT_TIMEOUT,
) -> None:
    """Make the registry match the manifests, or apply a saved plan exactly."""
    from reconciler import saved_plan
    from reconciler.apply import apply_plans

    saved = len(paths) == 1 and paths[0].suffix == ".json"
    if saved:
        # A saved plan was reviewed when it was made, so it is applied without a prompt
        # (as `terraform apply PLANFILE`); its signature, the checks of every change and
        # the revision keep it honest.
        if wait:
            raise ApplyRefused(
                "--wait re-plans from the manifests, but a saved plan is applied exactly as it "
                "was reviewed. Nothing was written. Apply the manifests with --wait, or the "
                "saved plan without it"
            )
        plans = saved_plan.read(paths[0])
        if saved_plan.plan_key() is None:
            warn(
                f"{saved_plan.PLAN_KEY_VARIABLE} is unset, so the origin of {paths[0]} is not "
                "verified (its checksum only catches accidents): set the same key for "
                "`registry plan --out` and `registry apply` to sign and verify saved plans"
            )
        conn = open_registry()
        reviewed = True
        replan = None
    else:
        manifests = _manifests(paths)
        conn = open_registry()
        kube, seen = _remembered(health_for(kube_context=kube_context, no_kube=no_kube))
        plans = _wait_for_health(conn, manifests, kube, timeout if wait else 0)
        reviewed = auto_approve
        replan = _replan_under_lock(conn, manifests, seen)
    out(render.plans_text(plans))
    _warn_about(plans)
    removing = [p.environment for p in plans if p.mass_removal]
    if removing and not allow_mass_removal:
        raise ApplyRefused(
            f"refusing to apply: the plan for {', '.join(removing)} disables or deregisters most "
            "of the environment's ready entries (see above). Nothing was written. If that is "
            "intended, run the command again with --allow-mass-removal"
        )
    if any(p.has_changes for p in plans) and not reviewed:
        _confirm()
    results = apply_plans(
        conn,
        plans,
        actor=actor,
        lock_timeout=lock_timeout,
        cache=open_cache(),
        recheck=saved,
        allow_mass_removal=allow_mass_removal,
        replan=replan,
    )
    for result in results:
        report_apply(result)
    if not any(p.has_changes for p in plans):
        say("No changes to apply.")


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
) -> None:
    """Print the registry of one environment as a manifest (validates, plans no changes)."""
    from registry import names, store

    names.check_environment(environment)
    revision, entries = store.snapshot(open_registry(), environment)
    active = [e for e in entries if not e.deregistered]
    if not active:
        warn(f'environment "{environment}" has no registered models: exporting an empty list')
    text = render.manifest_yaml(environment, active, revision=revision)
    if out_file is None:
        out(text.rstrip("\n"))
        return
    write_text(out_file, text, "manifest")
    say(f'Wrote the manifest of environment "{environment}" to {out_file}.')
