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
from .session import begin, detail

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
    what = f"error: internal error ({type(error).__name__}: {error})"
    if debug:
        say(f"{what}; please report it with this traceback:")
        traceback.print_exception(error, file=sys.stderr)
    else:
        say(f"{what}; rerun with --debug and report it with the traceback")
    return 1


def main() -> None:
    sys.exit(run())


def admin_main() -> None:
    sys.exit(run(admin=True))
