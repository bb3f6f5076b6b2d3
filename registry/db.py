"""Connecting to the registry database: DATABASE_URL, libpq's variables, or the embedded default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import migrate as migrations
from .errors import DatabaseUnavailable, InvalidSetting
from .settings import LIBPQ_SERVER_VARIABLES, env_switch, env_text

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 10
_DATABASE_URL_HINT = "Check that DATABASE_URL points at a running PostgreSQL that accepts this user"


@dataclass(frozen=True)
class Target:
    """Where the registry lives, and a description that is safe to print."""

    url: str  # "" lets libpq take everything from its PG* variables
    description: str  # never holds the password
    embedded_started: bool | None = None  # None: not embedded
    hint: str = _DATABASE_URL_HINT  # what to check when it does not answer


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def resolve_target(url: str | None = None) -> Target:
    """DATABASE_URL; else libpq's PG* variables; else the embedded default, never in CI.

    REGISTRY_EMBEDDED=1 asks for the embedded database whatever else is set
    (except DATABASE_URL, which contradicts it); REGISTRY_EMBEDDED=0 forbids it.
    """
    url = url or env_text("DATABASE_URL")
    embedded = env_switch("REGISTRY_EMBEDDED")
    if url:
        if embedded:
            raise InvalidSetting(
                "DATABASE_URL is set and REGISTRY_EMBEDDED=1 asks for the embedded PostgreSQL: "
                "unset one of them"
            )
        return Target(url=url, description=describe(url))
    libpq = [name for name in LIBPQ_SERVER_VARIABLES if os.environ.get(name)]
    if libpq and not embedded:
        return Target(
            url="",
            description=describe(""),
            hint=f"DATABASE_URL is unset, so libpq's {', '.join(libpq)} chose this server: "
            "check them, or set DATABASE_URL",
        )
    if embedded is False or (embedded is None and in_ci()):
        why = "REGISTRY_EMBEDDED=0 is set" if embedded is False else "CI is set"
        raise InvalidSetting(
            f"no registry database configured: DATABASE_URL is unset and {why}, so the "
            "registry does not start a throwaway embedded PostgreSQL (a plan or apply would "
            "run against an empty database and report success). Set DATABASE_URL to the "
            "registry database (in GitLab a masked CI/CD variable; a protected variable "
            "reaches protected branches only), or set REGISTRY_EMBEDDED=1 to use the "
            "embedded one on purpose"
        )
    from .embedded import ensure_running

    server = ensure_running()
    return Target(
        url=server.url,
        description=f"embedded PostgreSQL in {server.data_dir}",
        embedded_started=server.started,
        hint=f"The embedded server's log is in {server.data_dir / 'log'}",
    )


def _params(url: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    return conninfo_to_dict(url)


def describe(url: str) -> str:
    """``host H, port P, database D, user U`` for a libpq URL or key=value string, with
    what the URL leaves out taken from libpq's variables, as libpq does."""
    try:
        params = _params(url)
    except Exception:  # an unparsable URL must not be echoed: it may hold a password
        return "an unparsable DATABASE_URL"
    fallback = {
        "host": os.environ.get("PGHOST") or os.environ.get("PGHOSTADDR"),
        "port": os.environ.get("PGPORT"),
        "dbname": os.environ.get("PGDATABASE"),
        "user": os.environ.get("PGUSER"),
        "service": os.environ.get("PGSERVICE"),
    }
    value = {key: params.get(key) or fallback[key] for key in fallback}
    parts = [f"host {value['host'] or 'localhost'}"]
    for key, label in (("port", "port"), ("dbname", "database"), ("user", "user")):
        if value[key]:
            parts.append(f"{label} {value[key]}")
    if value["service"]:
        parts.append(f"service {value['service']}")
    return ", ".join(parts)


def redact(text: str, url: str) -> str:
    """Remove the password of ``url`` (or PGPASSWORD) from ``text`` wherever it appears."""
    try:
        password = _params(url).get("password")
    except Exception:
        return text.replace(url, "<DATABASE_URL>")
    for secret in (password, os.environ.get("PGPASSWORD")):
        if secret:
            text = text.replace(secret, "****")
    return text


def connection_options(url: str, *, connect_timeout: int = CONNECT_TIMEOUT_SECONDS) -> dict:
    """The psycopg options of every registry connection, pooled ones included.

    No server-side prepared statements unless REGISTRY_PREPARED_STATEMENTS=1:
    PgBouncer in transaction mode gives each transaction whichever server
    connection is free, where a statement prepared on another one does not exist.
    The default connect timeout applies only when neither the URL nor
    PGCONNECT_TIMEOUT sets one.
    """
    options: dict[str, Any] = {"autocommit": True}
    if not env_switch("REGISTRY_PREPARED_STATEMENTS"):
        options["prepare_threshold"] = None
    try:
        timeout_set = "connect_timeout" in _params(url)
    except Exception:  # psycopg.connect reports the bad URL itself
        timeout_set = False
    if not timeout_set and not os.environ.get("PGCONNECT_TIMEOUT"):
        options["connect_timeout"] = connect_timeout
    return options


def unavailable(target: Target, error: BaseException, *, lost: bool = False) -> DatabaseUnavailable:
    """The one message for a database that refused, did not answer, or went away."""
    text = str(error).strip()
    reason = redact(text.splitlines()[0] if text else type(error).__name__, target.url)
    if lost:
        reason = (
            f"the connection was lost while the command ran ({reason}); its transaction was "
            "rolled back, so run the command again once the server is back"
        )
    return DatabaseUnavailable(
        f"failed to connect to database ({target.description}): {reason}. {target.hint}"
    )


def connect(target: Target | None = None, *, prepare_schema: bool = True) -> psycopg.Connection:
    """Open an autocommit connection and bring the schema up to date (or check it is).

    With REGISTRY_AUTO_MIGRATE=0 pending migrations are an error instead;
    ``prepare_schema=False`` skips both (for `registry db migrate` itself).
    """
    import psycopg

    target = target or resolve_target()
    auto_migrate = env_switch("REGISTRY_AUTO_MIGRATE") is not False
    try:
        conn = psycopg.connect(target.url, **connection_options(target.url))
    except psycopg.Error as error:
        raise unavailable(target, error) from None
    if prepare_schema and auto_migrate:
        migrations.migrate(conn)
    elif prepare_schema:
        migrations.require_current(conn)
    return conn
