"""What every command shares: messages, options, and opening the registry."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import psycopg

    from reconciler.apply import ApplyResult


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def out(text: str) -> None:
    """Machine-readable output and results: stdout."""
    typer.echo(text)


def say(text: str) -> None:
    """Messages for the operator: stderr, so stdout stays parseable."""
    typer.echo(text, err=True)


def warn(text: str) -> None:
    say(f"warning: {text}")


def open_registry(*, prepare_schema: bool = True) -> psycopg.Connection:
    """Connect to DATABASE_URL, or to the embedded default (said in one line)."""
    from registry import db

    target = db.resolve_target()
    if target.embedded_started is not None:
        how = "started" if target.embedded_started else "reusing"
        say(f"registry: DATABASE_URL is unset, {how} the {target.description}")
    return db.connect(target, prepare_schema=prepare_schema)


Environment = Annotated[
    str, typer.Option("--environment", "-e", help="Environment, e.g. production.")
]
ModelName = Annotated[str, typer.Option("--model-name", "-m", help="Model name, e.g. llama-2-7b.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]
Actor = Annotated[
    str | None,
    typer.Option(help="Who to record in the audit log (default: GITLAB_USER_LOGIN, else OS user)."),
]
LockTimeout = Annotated[
    float, typer.Option("--lock-timeout", help="Seconds to wait for another apply's lock.")
]
Format = Annotated[OutputFormat, typer.Option("--format", "-o", help="Output format.")]


def report_apply(result: ApplyResult) -> None:
    """The closing lines of every command that applied a plan."""
    if result.applied:
        environment = result.plan.environment
        say(f'Applied to environment "{environment}", now at revision {result.revision}.')
