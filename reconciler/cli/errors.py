"""Every exception a command can end with, mapped to the one message the operator sees.

``user_error`` is the only place the CLI decides what an exception means: a
``RegistryError`` speaks for itself; database, Redis and Kubernetes driver errors
become the registry's own errors (with the password, the token and the URL's
credentials left out); Ctrl-C is exit 130. ``None`` means a bug: ``run()`` then says
"internal error" and shows the traceback only with --debug.

The drivers are never imported here: an error of a driver can only exist once the
command imported it, so ``sys.modules`` says which ones to check.
"""

from __future__ import annotations

import re
import sys

import typer

from registry import names
from registry.errors import (
    CacheUnavailable,
    ClusterError,
    DatabaseError,
    InputError,
    Interrupted,
    PermissionDenied,
    RegistryError,
)
from registry.redact import redact_urls

from .session import current

try:  # typer 0.2x carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:
    from click import exceptions as click_errors


def user_error(error: BaseException) -> RegistryError | None:
    """The registry error ``error`` means to an operator; None when it is a bug."""
    if isinstance(error, RegistryError):
        return error
    if isinstance(error, KeyboardInterrupt):
        return Interrupted()
    for mapping in (_click, _database, _redis, _kubernetes):
        mapped = mapping(error)
        if mapped is not None:
            return mapped
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# A Python string literal: click quotes a rejected value as its repr ({value!r}).
_QUOTED = re.compile(r"'(?:[^'\\\n]|\\.)*'" r'|"(?:[^"\\\n]|\\.)*"')


def _cut_quoted(message: str) -> str:
    """``message`` with each value it quotes cut short as ``names.shown`` does: click's
    messages for a choice or an on/off option repeat the rejected value whole (a 100 KB
    REGISTRY_NO_COLOR made a 100 KB line)."""

    def cut(match: re.Match[str]) -> str:
        import ast  # only for a message that quotes a long value: not at start-up

        literal = match.group()
        if len(literal) <= names.SHOWN + 2:
            return literal
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):  # not a repr after all: cut its text
            value = literal[1:-1]
        return names.shown(value)

    return _QUOTED.sub(cut, message)


def _click(error: BaseException) -> RegistryError | None:
    if isinstance(error, click_errors.UsageError):
        where = f"`{error.ctx.command_path} --help`" if error.ctx else "`registry --help`"
        message = _cut_quoted(error.format_message()).rstrip(".")
        return InputError(f"{message}. See {where} for the usage")
    if isinstance(error, click_errors.ClickException):
        return InputError(_cut_quoted(error.format_message()))
    if isinstance(error, typer.Abort):
        return RegistryError("aborted; nothing more was done")
    return None


def _database(error: BaseException) -> RegistryError | None:
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(error, psycopg.Error):
        return None
    from registry import db

    target = current().database
    line = _first_line(error)
    reason = db.redact(line, target.url, target.libpq) if target else redact_urls(line)
    where = f" ({target.description})" if target else ""
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return PermissionDenied(
            f"the database user of DATABASE_URL{where} may not do what this command needs "
            f"(permission denied: {reason}), so nothing was written: writes need a member of "
            "the registry_writer role (a registry_reader member can plan, list and resolve "
            "only), schema changes the owner that runs `registry db migrate`"
        )
    if isinstance(error, psycopg.OperationalError) and target is not None:
        return db.unavailable(target, error, lost=True)
    return DatabaseError(
        f"the database{where} refused the command ({error.sqlstate or 'no SQLSTATE'}: "
        f"{reason}); its transaction was rolled back. Check that the schema is up to date "
        "(`registry db migrate`) and that DATABASE_URL is the registry database"
    )


def _redis(error: BaseException) -> RegistryError | None:
    redis = sys.modules.get("redis")
    if redis is None or not isinstance(error, redis.RedisError):
        return None
    cache = current().cache
    if cache is not None:
        return cache.unavailable(error)
    return CacheUnavailable("REDIS_URL", redact_urls(_first_line(error)))


def _kubernetes(error: BaseException) -> RegistryError | None:
    api = sys.modules.get("kubernetes.client.exceptions")
    if api is not None and isinstance(error, api.ApiException):
        return ClusterError(
            f"the Kubernetes API server answered {error.status} {error.reason}: check the "
            "kubeconfig's context and that its user may read Deployments and Services, or "
            "pass --no-kube to skip health checks"
        )
    urllib3 = sys.modules.get("urllib3.exceptions")
    if urllib3 is not None and isinstance(error, urllib3.HTTPError):
        return ClusterError(
            f"cannot reach the Kubernetes API server ({_first_line(error)}): check KUBECONFIG "
            "and the network, or pass --no-kube to skip health checks"
        )
    return None
