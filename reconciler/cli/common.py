"""What every command shares: messages, options, and opening the registry."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

from reconciler.safe_text import escape, excerpt, printable
from reconciler.views import Format, View, paint_message
from registry.errors import RegistryError
from registry.redact import redact_urls

from .session import current, detail, notice

try:  # typer 0.2x carries its own copy of click, and its own Choice
    from typer._types import TyperChoice as Choice
except ImportError:
    from click import Choice

T = TypeVar("T")

if TYPE_CHECKING:
    import psycopg

    from reconciler.apply import ApplyResult
    from reconciler.audit_fields import CiJob
    from reconciler.observe import KubeSource
    from registry.cache import Cache
    from registry.db import Target


def out(text: str, *, paint: Callable[[str], str] | None = None) -> None:
    """Results: stdout. ``paint`` colours them on a terminal.

    The renderers escape every value; escaping again here (idempotent) guards
    the terminal against any text that reaches it another way. Colour comes
    after, so its escape codes are the only ones that reach the terminal.
    """
    text = escape(text, keep_newlines=True)
    typer.echo(paint(text) if paint and colored(sys.stdout) else text)


def colored(stream: TextIO) -> bool:
    """Colour only on a terminal, and not with --no-color (session.color) or NO_COLOR."""
    session = current()
    if not (session.color and stream.isatty()):
        return False
    try:
        return not session.settings.no_color
    except RegistryError:  # the invalid setting is what is being reported: plainly
        return False


def emit(view: View[T], value: T, output: Format, *, headers: bool = True) -> None:
    """Print a command's result on stdout as ``output`` says (views decide how)."""
    text = view.render(value, output, headers=headers)
    if text:
        out(text, paint=view.colored(output))


def format_choice(formats: Sequence[Format]) -> Choice:
    """The click type of an option whose values are some of the ``Format``s."""
    return Choice([str(f) for f in formats])


def output_option(view: View, help: str = "Output format.") -> typer.models.OptionInfo:
    """The one ``--format/-o`` option; its choices are the formats ``view`` supports."""
    return typer.Option(
        "--format",
        "-o",
        click_type=format_choice(view.formats),
        metavar=f"<{'|'.join(view.formats)}>",
        help=help,
    )


def say(text: str) -> None:
    """Messages for the operator, one line each: stderr, so stdout stays parseable.

    Escaped and with the credentials of any URL removed: messages quote values
    from files, the database and the cluster.
    """
    text = escape(redact_urls(text))
    typer.echo(paint_message(text) if colored(sys.stderr) else text, err=True)


def warn(text: str) -> None:
    """A warning that is not an error: silenced by -q."""
    if not current().quiet:
        say(f"warning: {text}")


def open_target() -> Target:
    """DATABASE_URL, or the embedded default (said once)."""
    from registry import db

    target = db.resolve_target(current().settings)
    if target.embedded_started is not None:
        how = "started" if target.embedded_started else "reusing"
        notice(f"registry: DATABASE_URL is unset, {how} the {target.description}")
    detail(f"registry: database: {target.description}")
    current().database = target
    return target


def open_registry(*, prepare_schema: bool = True) -> psycopg.Connection:
    """Connect to DATABASE_URL, or to the embedded default (said in one line)."""
    from registry import db

    return db.connect(open_target(), prepare_schema=prepare_schema)


def open_cache() -> Cache | None:
    """The router's Redis cache from REDIS_URL (one client per command); None when unset."""
    from registry.cache import Cache

    session = current()
    if not session.cache_opened:
        session.cache = Cache.from_settings(session.settings)
        session.cache_opened = True
        if session.cache is None:
            notice("registry: REDIS_URL is unset: cache off")
        else:
            detail(f"registry: cache: Redis at {session.cache.description}")
    return session.cache


Environment = Annotated[
    str, typer.Option("--environment", "-e", help="Environment, e.g. production.")
]
ModelName = Annotated[str, typer.Option("--model-name", "-m", help="Model name, e.g. llama-2-7b.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")]


def _checked_filter(param: typer.CallbackParam, value: str | None) -> str | None:
    """A filter is compared with stored text, so it must be printable UTF-8."""
    if value is not None:
        printable(value, param.opts[0], limit=253, advice="pass the name as it is registered")
    return value


EnvironmentFilter = Annotated[
    str | None,
    typer.Option(
        "--environment",
        "-e",
        help="Only this environment, e.g. production.",
        callback=_checked_filter,
    ),
]
ModelNameFilter = Annotated[
    str | None,
    typer.Option(
        "--model-name", "-m", help="Only this model, e.g. llama-2-7b.", callback=_checked_filter
    ),
]


def ci_job() -> CiJob:
    """What the audit log records of the CI job running this command (GITLAB_USER_LOGIN...)."""
    from reconciler.audit_fields import CiJob

    return CiJob.from_settings(current().settings)


def _checked_actor(actor: str | None) -> str | None:
    """Check what the audit log will record before the command reads or writes anything."""
    from reconciler import audit_fields

    audit_fields.check(actor, ci_job())
    return actor


Actor = Annotated[
    str | None,
    typer.Option(
        help="Who to record in the audit log (default: GITLAB_USER_LOGIN, else OS user).",
        envvar="REGISTRY_ACTOR",
        callback=_checked_actor,
    ),
]


# click's int() and float() also take '٣', '1_0' and ' 3': a number option is ASCII digits.
_INTEGER = re.compile(r"[0-9]{1,9}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?", re.ASCII)


def ascii_number(
    pattern: re.Pattern[str], convert: Callable[[str], T], what: str, rule: str
) -> Callable[[str], T]:
    """A typer ``parser`` that takes only what ``pattern`` matches, converted by ``convert``."""

    def parse(value: str) -> T:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise typer.BadParameter(f"invalid {what} {excerpt(value)}: {rule}")
        return convert(value)

    return parse


def limit_between(low: int, high: int, what: str = "limit") -> Callable[[str], int]:
    """A parser of a whole number in [low, high]."""
    rule = f"use a whole number from {low} to {high} in ASCII digits"
    whole = ascii_number(_INTEGER, int, what, rule)

    def parse(value: str) -> int:
        number = whole(value)
        if not low <= number <= high:
            raise typer.BadParameter(f"invalid {what} {number}: {rule}")
        return number

    return parse


def seconds_up_to(most: float, what: str, *, zero: bool = False) -> Callable[[str], float]:
    """A parser of a number of seconds above 0 (or from 0) and at most ``most``."""
    least = "from 0" if zero else "above 0"
    rule = f"use a number of seconds {least} and at most {most:g} in ASCII digits"
    number = ascii_number(_DECIMAL, float, what, rule)

    def parse(value: str) -> float:
        seconds = number(value)
        if not (seconds >= 0 if zero else seconds > 0) or seconds > most:
            # as written (ASCII digits by now): 86400.000000001 would print as 86400
            raise typer.BadParameter(f"invalid {what} {value}: {rule}")
        return seconds

    return parse


def _lock_timeout(seconds: float) -> float:
    from registry.store import check_lock_timeout

    return check_lock_timeout(seconds)


LockTimeout = Annotated[
    float,
    typer.Option(
        "--lock-timeout",
        metavar="SECONDS",
        help="Seconds to wait for another apply's lock (0: do not wait; at most 3600).",
        envvar="REGISTRY_LOCK_TIMEOUT",
        parser=ascii_number(
            _DECIMAL,
            float,
            "lock timeout",
            "use a number of seconds from 0 (do not wait) to 3600 in ASCII digits",
        ),
        callback=_lock_timeout,
    ),
]


def report_apply(result: ApplyResult) -> None:
    """The closing lines of every command that applied a plan."""
    if result.applied:
        environment = result.plan.environment
        say(f'Applied to environment "{environment}", now at revision {result.revision}.')
    if result.cache_error:
        count = result.pending_invalidations or "its"
        warn(
            f"the change is committed, but {count} cache "
            f"invalidation(s) are pending: {result.cache_error}. Run `registry cache sync` "
            "once Redis is back (the next apply also does it); until then the router may "
            "serve the old entries until their cache TTL expires"
        )


Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file to use (default: KUBECONFIG, else ~/.kube/config, else the "
        "pod's service account).",
        envvar="REGISTRY_KUBECONFIG",
        show_default=False,
    ),
]
RequestTimeout = Annotated[
    float,
    typer.Option(
        "--request-timeout",
        metavar="SECONDS",
        help="Seconds to wait for each Kubernetes API request (to connect, and for the answer).",
        envvar="REGISTRY_REQUEST_TIMEOUT",
        parser=seconds_up_to(3600, "request timeout"),
    ),
]


def kube_source(kubeconfig: str | None = None, timeout: float | None = None) -> KubeSource:
    """Where this command's cluster is (KUBECONFIG, in a pod), with --kubeconfig and
    --request-timeout applied."""
    from dataclasses import replace

    from reconciler.observe import KubeSource

    source = KubeSource.from_settings(current().settings)
    if kubeconfig is not None:
        source = replace(source, kubeconfig=kubeconfig, named_by="--kubeconfig")
    return source if timeout is None else replace(source, timeout=timeout)
