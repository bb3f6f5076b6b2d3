"""Command-line interface: `registry <command>` and `admin-cli registry <command>`."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence

import typer

from registry.errors import Interrupted

from . import (  # noqa: F401  (importing a command module registers its commands)
    cache_commands,
    controller_commands,
    declarative_commands,
    kube_commands,
    operator_commands,
    shell_commands,
)
from .app import admin_app, app
from .common import say
from .errors import click_errors, user_error
from .session import begin, current, detail

# click >= 8.2: the help that `registry` alone prints
_HELP_SHOWN = getattr(click_errors, "NoArgsIsHelpError", ())


def run(args: Sequence[str] | None = None, *, admin: bool = False) -> int:
    """Run one command line (``sys.argv[1:]`` when ``args`` is None); return its exit code.

    Every error is one `error:` paragraph and exit 1; an internal error (a bug) shows
    its traceback only with --debug. Each call is a fresh session (settings, notices
    said, -q/-v/--debug), so tests call this in-process.

    Exit 2 is kept for what `plan --detailed-exitcode` means by it (changes): click
    would use it for usage errors too, so a mistyped option in a scheduled drift
    job would read as drift.
    """
    application = admin_app if admin else app
    session = begin()
    started = time.perf_counter()
    try:
        code = application(
            args=None if args is None else list(args),
            prog_name="admin-cli" if admin else "registry",
            standalone_mode=False,
        )
    except _HELP_SHOWN as error:
        typer.echo(error.ctx.get_help(), err=True)
        code = 1
    except (Exception, KeyboardInterrupt) as error:
        code = _report(error, debug=session.debug)
    else:
        code = code if isinstance(code, int) else 0
        if code == Interrupted.exit_code:  # typer turns Ctrl-C into a silent exit 130
            code = _report(KeyboardInterrupt(), debug=False)
    finally:
        if session.cache is not None:
            session.cache.close()
    detail(f"registry: finished in {time.perf_counter() - started:.3f} s (exit {code})")
    return code


def _report(error: BaseException, *, debug: bool) -> int:
    """Say what ended the command; its exit code."""
    known = user_error(error)
    if known is not None:
        say(f"error: {known}")
        return known.exit_code
    from registry.redact import withhold

    # A bug's message may quote a known password outside a URL (which ``say`` redacts).
    secrets = _known_secrets()
    what = f"error: internal error ({type(error).__name__}: {withhold(str(error), secrets)})"
    if debug:
        say(f"{what}; please report it with this traceback:")
        typer.echo(_traceback(error, secrets), err=True, nl=False)
    else:
        say(f"{what}; rerun with --debug and report it with the traceback")
    return 1


def _traceback(error: BaseException, secrets: list[str]) -> str:
    """The traceback of ``error``, its causes included, made safe as ``say`` makes a line,
    and each line that quotes one of ``secrets`` withheld (``registry.redact.withhold``)."""
    from registry.redact import redact_urls, withhold

    from ..safe_text import escape

    lines = redact_urls("".join(traceback.format_exception(error))).splitlines()
    return escape("\n".join(withhold(line, secrets) for line in lines) + "\n", keep_newlines=True)


def _known_secrets() -> list[str]:
    """The passwords of DATABASE_URL (or PGPASSWORD) and REDIS_URL, those that can be read."""
    from registry import db, redis_url

    # Reporting a bug must not fail: a setting that cannot be read is left out (its own
    # error never quotes its value).
    try:
        settings = current().settings
    except Exception:
        return []
    secrets = [settings.libpq.get("PGPASSWORD")]
    for read in (
        lambda: [db.parse_url(settings.database_url).get("password")],
        lambda: redis_url.parse(settings.redis_url).secrets if settings.redis_url else (),
    ):
        try:
            secrets += read()
        except Exception:
            continue
    return [secret for secret in secrets if secret]


def main() -> None:
    sys.exit(run())


def admin_main() -> None:
    sys.exit(run(admin=True))
