"""Connecting to the registry database: DATABASE_URL or the embedded default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import migrate as migrations
from .errors import DatabaseUnavailable

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Target:
    """Where the registry lives, and a description that is safe to print."""

    url: str
    description: str  # never holds the password
    embedded_started: bool | None = None  # None: not embedded


def resolve_target(url: str | None = None) -> Target:
    url = url or os.environ.get("DATABASE_URL")
    if url:
        return Target(url=url, description=describe(url))
    from .embedded import ensure_running

    server = ensure_running()
    return Target(
        url=server.url,
        description=f"embedded PostgreSQL in {server.data_dir}",
        embedded_started=server.started,
    )


def describe(url: str) -> str:
    """``host H, port P, database D, user U`` for a libpq URL or key=value string."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except Exception:  # an unparsable URL must not be echoed: it may hold a password
        return "an unparsable DATABASE_URL"
    parts = [f"host {params.get('host') or 'localhost'}"]
    for key in ("port", "dbname", "user"):
        if params.get(key):
            parts.append(f"{'database' if key == 'dbname' else key} {params[key]}")
    return ", ".join(parts)


def redact(text: str, url: str) -> str:
    """Remove the password of ``url`` from ``text`` wherever it appears."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except Exception:
        return text.replace(url, "<DATABASE_URL>")
    return text.replace(password, "****") if password else text


def connect(target: Target | None = None, *, prepare_schema: bool = True) -> psycopg.Connection:
    """Open an autocommit connection and bring the schema up to date (or check it is).

    With REGISTRY_AUTO_MIGRATE=0 pending migrations are an error instead;
    ``prepare_schema=False`` skips both (for `registry db migrate` itself).
    """
    import psycopg

    target = target or resolve_target()
    try:
        conn = psycopg.connect(target.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        reason = redact(
            str(error).strip().splitlines()[0] if str(error).strip() else "", target.url
        )
        raise DatabaseUnavailable(
            f"failed to connect to database ({target.description}): {reason}. "
            "Check that DATABASE_URL points at a running PostgreSQL that accepts this user, "
            "or unset DATABASE_URL to use the embedded default"
        ) from None
    if prepare_schema and os.environ.get("REGISTRY_AUTO_MIGRATE", "1") != "0":
        migrations.migrate(conn)
    elif prepare_schema:
        migrations.require_current(conn)
    return conn
