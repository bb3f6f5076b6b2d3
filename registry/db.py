"""Connecting to the registry database: DATABASE_URL, libpq's variables, or the embedded default."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from . import migrate as migrations
from .errors import DatabaseUnavailable, InvalidSetting
from .redact import withhold
from .settings import LIBPQ_SERVER_VARIABLES

if TYPE_CHECKING:
    import psycopg

    from .settings import Settings

CONNECT_TIMEOUT_SECONDS = 10
NO_LIBPQ: Mapping[str, str] = MappingProxyType({})
_DATABASE_URL_HINT = "Check that DATABASE_URL points at a running PostgreSQL that accepts this user"


@dataclass(frozen=True)
class Target:
    """Where the registry lives, how every connection to it is made, and a description
    that is safe to print."""

    url: str = field(repr=False)  # "" lets libpq take everything from its PG* variables
    description: str  # never holds the password
    embedded_started: bool | None = None  # None: not embedded
    hint: str = _DATABASE_URL_HINT  # what to check when it does not answer
    libpq: Mapping[str, str] = field(default_factory=lambda: NO_LIBPQ, repr=False)  # PG* set
    prepared_statements: bool = False  # REGISTRY_PREPARED_STATEMENTS
    auto_migrate: bool = True  # REGISTRY_AUTO_MIGRATE


def resolve_target(settings: Settings) -> Target:
    """DATABASE_URL; else libpq's PG* variables; else the embedded default, never in CI.

    REGISTRY_EMBEDDED=1 asks for the embedded database whatever else is set
    (except DATABASE_URL, which contradicts it); REGISTRY_EMBEDDED=0 forbids it.
    """
    url, embedded, libpq = settings.database_url, settings.embedded, settings.libpq
    how = {
        "libpq": libpq,
        "prepared_statements": settings.prepared_statements,
        "auto_migrate": settings.auto_migrate,
    }
    if settings.listen_url:
        # Checked here, where the controller resolves its target before it listens.
        parse_url(settings.listen_url, "REGISTRY_LISTEN_URL")
    if url:
        parse_url(url)
        if embedded:
            raise InvalidSetting(
                "DATABASE_URL is set and REGISTRY_EMBEDDED=1 asks for the embedded PostgreSQL: "
                "unset one of them"
            )
        return Target(url=url, description=describe(url, libpq), **how)
    servers = [name for name in LIBPQ_SERVER_VARIABLES if name in libpq]
    if servers and not embedded:
        return Target(
            url="",
            description=describe("", libpq),
            hint=f"DATABASE_URL is unset, so libpq's {', '.join(servers)} chose this server: "
            "check them, or set DATABASE_URL",
            **how,
        )
    if embedded is False or (embedded is None and settings.ci):
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

    server = ensure_running(settings.home)
    return Target(
        url=server.url,
        description=f"embedded PostgreSQL in {server.data_dir}",
        embedded_started=server.started,
        hint=f"The embedded server's log is in {server.data_dir / 'log'}",
        **how,
    )


def parse_url(url: str, name: str = "DATABASE_URL") -> dict[str, Any]:
    """The connection parameters of a libpq URL or key=value string.

    ``InvalidSetting`` naming the variable ``name`` when libpq cannot parse it, or
    parses a URL's password whose special characters were not percent-encoded into
    another part (``/`` starts the database, so what precedes it reads as a port; ``@``
    ends the password early, so the rest reads as the host). libpq's message is never
    shown: it quotes the part it could not parse, most often the password.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except (psycopg.Error, ValueError):
        params = None
    if params is None or ("://" in url and _misread(params)):
        raise InvalidSetting(
            f"invalid {name}: libpq cannot parse it, or reads part of the password as the "
            "host, port or database (what it read is not shown: it may be the password). In "
            "a postgresql:// URL, percent-encode every special character of the user name "
            "and password (% as %25, @ as %40, : as %3A, / as %2F, # as %23, ? as %3F, a "
            "space as %20); in key=value form, put a value that holds spaces in single "
            "quotes (password='a b')"
        )
    return params


def _misread(params: Mapping[str, str]) -> bool:
    """Whether libpq read part of a password as a host or database name (an '@' in it)
    or as a port (not a number)."""
    ports = (params.get("port") or "").split(",")
    return "@" in (params.get("host") or "") + (params.get("dbname") or "") or not all(
        port.isdigit() for port in ports if port
    )


def describe(url: str, libpq: Mapping[str, str] = NO_LIBPQ) -> str:
    """``host H, port P, database D, user U`` for a libpq URL or key=value string, with
    what the URL leaves out taken from libpq's variables (``libpq``), as libpq does.
    ``InvalidSetting`` when libpq cannot parse ``url`` (``parse_url``)."""
    params = parse_url(url)
    fallback = {
        "host": libpq.get("PGHOST") or libpq.get("PGHOSTADDR"),
        "port": libpq.get("PGPORT"),
        "dbname": libpq.get("PGDATABASE"),
        "user": libpq.get("PGUSER"),
        "service": libpq.get("PGSERVICE"),
    }
    value = {key: params.get(key) or fallback[key] for key in fallback}
    parts = [f"host {value['host'] or 'localhost'}"]
    for key, label in (("port", "port"), ("dbname", "database"), ("user", "user")):
        if value[key]:
            parts.append(f"{label} {value[key]}")
    if value["service"]:
        parts.append(f"service {value['service']}")
    return ", ".join(parts)


def redact(text: str, url: str, libpq: Mapping[str, str] = NO_LIBPQ) -> str:
    """``text`` (a driver's message), unless it quotes the password of ``url`` or
    ``libpq``'s PGPASSWORD (``registry.redact.withhold``)."""
    try:
        password = parse_url(url).get("password")
    except InvalidSetting:  # libpq's messages about such a URL quote what it could not parse
        return "the driver's message is withheld: the URL it was given cannot be parsed"
    return withhold(text, (password, libpq.get("PGPASSWORD")))


def connection_options(
    url: str,
    *,
    prepared_statements: bool = False,
    libpq: Mapping[str, str] = NO_LIBPQ,
    connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
) -> dict:
    """The psycopg options of every registry connection, pooled ones included.

    No server-side prepared statements unless ``prepared_statements``
    (REGISTRY_PREPARED_STATEMENTS=1): PgBouncer in transaction mode gives each
    transaction whichever server connection is free, where a statement prepared on
    another one does not exist. The default connect timeout applies only when neither
    the URL nor PGCONNECT_TIMEOUT (in ``libpq``) sets one. ``InvalidSetting`` when libpq
    cannot parse ``url``: no connection is ever tried with it (see ``parse_url``).
    """
    options: dict[str, Any] = {"autocommit": True}
    if not prepared_statements:
        options["prepare_threshold"] = None
    if "connect_timeout" not in parse_url(url) and not libpq.get("PGCONNECT_TIMEOUT"):
        options["connect_timeout"] = connect_timeout
    return options


def unavailable(target: Target, error: BaseException, *, lost: bool = False) -> DatabaseUnavailable:
    """The one message for a database that refused, did not answer, or went away."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    reason = redact(first, target.url, target.libpq)
    if lost:
        reason = (
            f"the connection was lost while the command ran ({reason}); its transaction was "
            "rolled back, so run the command again once the server is back"
        )
    return DatabaseUnavailable(
        f"failed to connect to database ({target.description}): {reason}. {target.hint}"
    )


def connect(target: Target, *, prepare_schema: bool = True) -> psycopg.Connection:
    """Open an autocommit connection and bring the schema up to date (or check it is).

    With REGISTRY_AUTO_MIGRATE=0 (``target.auto_migrate`` False) pending migrations are
    an error instead; ``prepare_schema=False`` skips both (for `registry db migrate`).
    """
    import psycopg

    options = connection_options(
        target.url, prepared_statements=target.prepared_statements, libpq=target.libpq
    )
    try:
        conn = psycopg.connect(target.url, **options)
        _iso_dates(conn)
    except psycopg.Error as error:
        raise unavailable(target, error) from None
    if prepare_schema and target.auto_migrate:
        migrations.migrate(conn)
    elif prepare_schema:
        migrations.require_current(conn)
    return conn


def _iso_dates(conn: psycopg.Connection) -> None:
    """Have the server write dates and times in ISO, the only DateStyle psycopg reads in
    text format: the server, the database (ALTER DATABASE ... SET datestyle), PGDATESTYLE
    or PGOPTIONS may choose another. PgBouncer-safe: it tracks DateStyle from the server's
    ParameterStatus and sets it again on whichever server connection runs the next
    transaction. The date order (DMY, MDY) is left as set: it only affects input."""
    datestyle = conn.info.parameter_status("DateStyle") or ""
    if not datestyle.startswith("ISO"):
        conn.execute("SET DateStyle = ISO")
