"""Versioned schema migrations, applied in order under a transaction-level advisory lock."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from .errors import SchemaOutdated

if TYPE_CHECKING:
    import psycopg

# Any fixed number works; it only has to be the same for every registry process.
MIGRATION_LOCK_KEY = 0x766C6C6D  # "vllm"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """The migrations shipped inside the package, ordered by version."""
    found = []
    for item in resources.files("registry.migrations").iterdir():
        if item.name.endswith(".sql"):
            version, _, name = item.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(version), name, item.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def applied_versions(conn: psycopg.Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('registry_schema_migrations') IS NOT NULL").fetchone()
    if not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM registry_schema_migrations")}


def pending(conn: psycopg.Connection) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in available() if m.version not in done]


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration; return the ones this call applied.

    All of them run in one transaction under a transaction-level advisory lock
    (a session lock would not survive PgBouncer's transaction pooling): concurrent
    callers (parallel CI jobs) wait for each other, and the second one then finds
    nothing left to do. A failing migration leaves the schema as it was.
    """
    import psycopg

    if not pending(conn):  # the common case costs one query and no lock
        return []
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS registry_schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = pending(conn)
            for migration in done:
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO registry_schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
    except psycopg.errors.InsufficientPrivilege:
        # A registry_reader or registry_writer member: only the owner changes the schema.
        raise SchemaOutdated(
            f"the registry database schema is behind this version of registry (pending "
            f"migrations: {_names(pending(conn))}) and this database user may not change it "
            "(permission denied): run `registry db migrate` as the database owner first"
        ) from None
    return done


def require_current(conn: psycopg.Connection) -> None:
    """Raise when migrations are pending (the auto-migration is turned off)."""
    missing = pending(conn)
    if missing:
        raise SchemaOutdated(
            f"the registry database schema is behind this version of registry "
            f"(pending migrations: {_names(missing)}) and REGISTRY_AUTO_MIGRATE=0 turns off the "
            "automatic upgrade: run `registry db migrate` (or your reviewed schema change) first"
        )


def _names(migrations: list[Migration]) -> str:
    return ", ".join(f"{m.version:04d}_{m.name}" for m in migrations)
