"""Reading and writing the registry tables.

``write_changes`` (inside ``environment_lock``) is the only code that writes
entries; the reconciler's ``apply`` is its only caller, so locking, the
revision check, audit and the cache outbox happen in exactly one place.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from .entry import Entry, cache_key
from .errors import (
    AuditChainBroken,
    DatabaseUnavailable,
    InvalidSetting,
    LockTimeout,
    PermissionDenied,
    StaleRevision,
)
from .vocabulary import Action

if TYPE_CHECKING:
    import psycopg

ENTRY_COLUMNS = (
    "id, model_name, environment, namespace, endpoint, status, health, managed_by, "
    "last_health_check, created_at, updated_at, deregistered_at"
)
# NOTIFY channel of every revision bump (payload: the environment), for the controller.
CHANGES_CHANNEL = "registry_changes"
MAX_LOCK_TIMEOUT = 3600


# HealthRecord and EntryWrite are NamedTuples, not frozen dataclasses: an apply makes
# one of each per entry, and a frozen dataclass takes twice as long to build and one
# more object (its __dict__) for the garbage collector to walk. For 10,000 creates the
# apply went from about 195 to 177 ms (benchmarks/).
class HealthRecord(NamedTuple):
    """An observation of one entry's deployment: bookkeeping, not a change."""

    model_name: str
    health: str
    checked_at: Any  # datetime
    probe: str | None = None  # the controller's GET /v1/models verdict ('ok' or why not)


class EntryWrite(NamedTuple):
    """The new state of one entry and the action the audit log records for it.

    The audit row's before is the stored row, read by the database in the same
    statement; its after is what this write stores.
    """

    action: str
    entry: Entry
    observed: HealthRecord | None = None  # a new entry's first health observation
    reason: str | None = None  # why the entry is pending (stored as status_reason)


@dataclass(frozen=True)
class AuditContext:
    actor: str
    plan_id: str
    commit_sha: str | None = None
    pipeline_url: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    id: int
    recorded_at: Any
    environment: str
    revision: int
    plan_id: str
    action: str
    model_name: str
    actor: str
    commit_sha: str | None
    pipeline_url: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _entry(row: Sequence[Any]) -> Entry:
    (id_, model, env, ns, endpoint, status, health, managed, checked, created, updated, dereg) = row
    return Entry(
        id=id_,
        model_name=model,
        environment=env,
        namespace=ns,
        endpoint=endpoint,
        status=status,
        health=health,
        managed_by=managed,
        deregistered=dereg is not None,
        last_health_check=checked,
        created_at=created,
        updated_at=updated,
        deregistered_at=dereg,
    )


def list_entries(
    conn: psycopg.Connection,
    *,
    environment: str | None = None,
    status: str | None = None,
    model_name: str | None = None,
    limit: int | None = None,
) -> list[Entry]:
    conditions, params = [], []
    for column, value in (
        ("environment", environment),
        ("status", status),
        ("model_name", model_name),
    ):
        if value is not None:
            conditions.append(f"{column} = %s")  # column names are fixed above, values bound
            params.append(value)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    query = f"SELECT {ENTRY_COLUMNS} FROM model_registry_entries{where} ORDER BY id"
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    return [_entry(row) for row in conn.execute(query, params)]


def get_entry(conn: psycopg.Connection, environment: str, model_name: str) -> Entry | None:
    row = conn.execute(
        f"SELECT {ENTRY_COLUMNS} FROM model_registry_entries"
        " WHERE environment = %s AND model_name = %s",
        (environment, model_name),
    ).fetchone()
    return _entry(row) if row else None


def revision(conn: psycopg.Connection, environment: str) -> int:
    row = conn.execute(
        "SELECT revision FROM registry_revisions WHERE environment = %s", (environment,)
    ).fetchone()
    return row[0] if row else 0


def snapshot(conn: psycopg.Connection, environment: str) -> tuple[int, list[Entry]]:
    """The environment's revision and entries, read consistently in one transaction."""
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        # Inside environment_lock: nobody else can write the environment meanwhile.
        return revision(conn, environment), list_entries(conn, environment=environment)
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return revision(conn, environment), list_entries(conn, environment=environment)


_HISTORY = (
    "SELECT id, recorded_at, environment, revision, plan_id, action, model_name, actor,"
    " commit_sha, pipeline_url, before::text, after::text FROM registry_audit_log"
)


def _audit_record(row: Sequence[Any]) -> AuditRecord:
    *fields, before, after = row
    return AuditRecord(*fields, _audit_json(before), _audit_json(after))


def _audit_json(text: str | None) -> Any:
    """A before/after column, read as text and decoded so that no number can fail it.

    The audit log is append-only and a writer can insert any jsonb: a number of over
    4300 digits (Python's int() limit) or beyond float range is kept as its text, so
    the row still prints (as JSON: no Infinity).
    """
    return None if text is None else json.loads(text, parse_int=_json_int, parse_float=_json_float)


def _json_int(text: str) -> int | str:
    limit = sys.get_int_max_str_digits()
    return text if limit and len(text.lstrip("-")) > limit else int(text)


def _json_float(text: str) -> float | str:
    number = float(text)
    return number if math.isfinite(number) else text


def _permission_denied(action: str, remedy: str) -> PermissionDenied:
    return PermissionDenied(
        f"the database user of DATABASE_URL may not {action} (permission denied), {remedy}"
    )


@contextmanager
def _audit_reader() -> Iterator[None]:
    import psycopg

    try:
        yield
    except psycopg.errors.InsufficientPrivilege:
        raise _permission_denied(
            "read the audit log", "which a registry_writer member or the owner can"
        ) from None


def history(
    conn: psycopg.Connection,
    *,
    environment: str | None = None,
    model_name: str | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    conditions, params = [], []
    for column, value in (("environment", environment), ("model_name", model_name)):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with _audit_reader():
        rows = conn.execute(f"{_HISTORY}{where} ORDER BY id DESC LIMIT %s", [*params, limit])
    return [_audit_record(row) for row in rows]


# A row matches when its stored hash is the one its content and the stored hash of
# the environment's previous row give: an edited row, or the row after a removed one,
# does not.
_VERIFY = """
WITH checked AS (
    SELECT id, chain_hash = registry_audit_chain_step(
               NULL,
               lag(chain_hash) OVER (PARTITION BY environment ORDER BY id),
               registry_audit_content(
                   recorded_at, environment, revision, plan_id, action, model_name, actor,
                   commit_sha, pipeline_url, before, after)) AS matches
    FROM registry_audit_log
)
SELECT count(*), min(id) FILTER (WHERE matches IS NOT TRUE) FROM checked
"""


@dataclass(frozen=True)
class ChainHead:
    """An environment's newest audit row: record it outside the database to anchor the chain."""

    environment: str
    last_id: int
    chain_hash: str  # hex
    revision: int


@dataclass(frozen=True)
class ChainCheck:
    records: int
    heads: tuple[ChainHead, ...]


_TAMPERED = "Compare it with a backup of the database and find who had the owner's credentials"
_HEADS = """
SELECT DISTINCT ON (environment) environment, id, encode(chain_hash, 'hex'), revision
FROM registry_audit_log ORDER BY environment, id DESC
"""


def verify_audit_chain(
    conn: psycopg.Connection, expected_heads: Mapping[str, str] | None = None
) -> ChainCheck:
    """Check every environment's hash chain, its newest row and ``expected_heads``.

    The chain alone cannot tell a removed newest row, or a chain an owner
    recomputed, from an intact log. So each environment's newest row must carry
    its current revision (a revision-bumping write records the new revision,
    liveness writes the current one), and each of ``expected_heads``
    (environment: chain hash printed by an earlier verify) must still be in the chain.
    """
    with _audit_reader(), conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        count, bad_id = conn.execute(_VERIFY).fetchone()
        if bad_id is not None:
            bad = _audit_record(conn.execute(f"{_HISTORY} WHERE id = %s", (bad_id,)).fetchone())
            raise AuditChainBroken(
                f"the audit log was altered: record {bad.id} ({bad.environment}, revision "
                f"{bad.revision}, {bad.action} {bad.model_name!r}, recorded "
                f"{bad.recorded_at:%Y-%m-%d %H:%M:%S}) does not match its hash chain, so it "
                f"(or the record before it in {bad.environment}) was changed or removed after "
                f"it was written. {_TAMPERED}"
            )
        heads = tuple(ChainHead(*row) for row in conn.execute(_HEADS))
        stored = dict(conn.execute("SELECT environment, revision FROM registry_revisions"))
        for environment in sorted({h.environment for h in heads} | set(stored)):
            head = next((h for h in heads if h.environment == environment), None)
            logged = head.revision if head else 0
            if logged != stored.get(environment, 0):
                raise AuditChainBroken(
                    f"the audit log was altered: environment {environment!r} is at revision "
                    f"{stored.get(environment, 0)} but its newest audit record is of revision "
                    f"{logged}, so records were removed from its end (or the revision was "
                    f"changed). {_TAMPERED}"
                )
        for environment, chain_hash in sorted((expected_heads or {}).items()):
            found = conn.execute(
                "SELECT 1 FROM registry_audit_log WHERE environment = %s"
                " AND chain_hash = decode(%s, 'hex')",
                (environment, chain_hash),
            ).fetchone()
            if found is None:
                raise AuditChainBroken(
                    f"the audit log was altered: the chain of environment {environment!r} no "
                    f"longer contains the expected head {chain_hash}, so records up to it were "
                    f"removed or the chain was rewritten. {_TAMPERED}"
                )
    return ChainCheck(count, heads)


# The entries of one apply go in by COPY into this table, then one statement writes
# from it: executemany would send one statement per row (1 s for 10,000 rows).
_STAGE = """
CREATE TEMP TABLE registry_writes (
    position integer, action text, model_name text, environment text, namespace text,
    endpoint text, status text, health text, managed_by text, last_health_check timestamptz,
    deregistered boolean, status_reason text
) ON COMMIT DROP
"""

# One statement writes the entries, their audit rows and their cache keys in the
# outbox. The CTEs share one snapshot, so `previous` sees the stored rows as they
# were before `written` changed them (the audit's before); the audit's after is
# the staged row. PostgreSQL builds the JSON, with no per-row Python.
_WRITE = """
WITH previous AS MATERIALIZED (
    SELECT w.position,
           to_jsonb(e) || jsonb_build_object('deregistered', e.deregistered_at IS NOT NULL) AS doc
    FROM registry_writes w
    JOIN model_registry_entries e
      ON e.environment = %(environment)s AND e.model_name = w.model_name
), created AS (
    -- Plain INSERT for creates: the plan saw no row, and the lock and the revision
    -- check guarantee there still is none (ON CONFLICT would cost a speculative
    -- insertion per row).
    INSERT INTO model_registry_entries
        (model_name, environment, namespace, endpoint, status, health, managed_by,
         last_health_check, deregistered_at, status_reason)
    SELECT model_name, environment, namespace, endpoint, status, health, managed_by,
           last_health_check, CASE WHEN deregistered THEN now() END, status_reason
    FROM registry_writes
    WHERE action = %(create)s
), updated AS (
    UPDATE model_registry_entries AS e SET
        namespace = w.namespace,
        endpoint = w.endpoint,
        status = w.status,
        health = w.health,
        managed_by = w.managed_by,
        last_health_check = COALESCE(w.last_health_check, e.last_health_check),
        deregistered_at = CASE WHEN w.deregistered THEN COALESCE(e.deregistered_at, now()) END,
        status_reason = w.status_reason,
        updated_at = now()
    FROM registry_writes w
    WHERE w.action <> %(create)s
      AND e.environment = %(environment)s AND e.model_name = w.model_name
), queued AS (
    INSERT INTO registry_cache_outbox (cache_key)
    SELECT %(key_prefix)s || model_name FROM registry_writes
), audited AS (
    SELECT w.position, w.environment, w.action, w.model_name, previous.doc AS before,
           jsonb_build_object(
               'model_name', w.model_name, 'environment', w.environment,
               'namespace', w.namespace, 'endpoint', w.endpoint, 'status', w.status,
               'health', w.health, 'managed_by', w.managed_by,
               'last_health_check', w.last_health_check, 'deregistered', w.deregistered,
               'reason', w.status_reason) AS after
    FROM registry_writes w
    LEFT JOIN previous USING (position)
)
-- The hash chain (migration 0002) continues from the environment's last row: one
-- window pass over the statement's rows, whatever their number.
INSERT INTO registry_audit_log
    (recorded_at, environment, revision, plan_id, action, model_name, actor, commit_sha,
     pipeline_url, before, after, chain_hash)
SELECT now(), environment, %(revision)s, %(plan_id)s, action, model_name, %(actor)s,
       %(commit_sha)s, %(pipeline_url)s, before, after,
       registry_audit_chain(
           (SELECT chain_hash FROM registry_audit_log
            WHERE environment = %(environment)s ORDER BY id DESC LIMIT 1),
           registry_audit_content(
               now(), environment, %(revision)s, %(plan_id)s, action, model_name, %(actor)s,
               %(commit_sha)s, %(pipeline_url)s, before, after))
           OVER (ORDER BY position)
FROM audited
ORDER BY position
"""


def check_lock_timeout(seconds: float) -> float:
    """``seconds`` when it is a usable lock wait: finite, 0 (do not wait) to an hour."""
    if not 0 <= seconds <= MAX_LOCK_TIMEOUT:  # also false for nan
        raise InvalidSetting(
            f"invalid lock timeout {seconds!r}: use a number of seconds from 0 (do not wait) "
            f"to {MAX_LOCK_TIMEOUT}"
        )
    return seconds


def lock_environment_row(conn: psycopg.Connection, environment: str) -> None:
    """Lock ``environment``'s registry_revisions row (made at revision 0 when absent).

    A row lock, not an advisory lock: FOR UPDATE needs UPDATE on the table, so a
    registry_reader member (the merge-request credential) cannot hold it and block
    applies, while anyone may take an advisory lock. A row at revision 0 reads as
    an absent one (``revision``, ``write_changes``' upsert). Waits up to the
    transaction's lock_timeout.
    """
    conn.execute(
        "INSERT INTO registry_revisions (environment, revision) VALUES (%s, 0)"
        " ON CONFLICT (environment) DO NOTHING",
        (environment,),
    )
    conn.execute(
        "SELECT revision FROM registry_revisions WHERE environment = %s FOR UPDATE",
        (environment,),
    )


@contextmanager
def environment_lock(
    conn: psycopg.Connection, environments: str | Sequence[str], *, lock_timeout: float
) -> Iterator[None]:
    """A transaction holding the apply lock of each environment; commits on exit.

    The locks are row locks on registry_revisions (``lock_environment_row``), so
    transaction-scoped: they work behind PgBouncer in transaction mode and are
    released by commit, rollback or a dead connection. They are taken in sorted
    order, so two applies of overlapping environments queue instead of
    deadlocking. Waiting is bounded by ``lock_timeout`` seconds per lock; 0 does
    not wait (1 ms: PostgreSQL would read a lock_timeout of 0 as "forever").
    """
    import psycopg

    check_lock_timeout(lock_timeout)
    wanted = sorted({environments} if isinstance(environments, str) else set(environments))
    try:
        with conn.transaction():
            # At least 1 ms: a shorter wait would round to 0, which means no limit.
            wait = f"{max(1, int(lock_timeout * 1000))}ms"
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (wait,))
            for environment in wanted:
                try:
                    lock_environment_row(conn, environment)
                except psycopg.errors.LockNotAvailable:
                    raise LockTimeout(
                        f"another apply holds the lock on environment {environment!r} and did "
                        f"not release it within {lock_timeout:g} s: wait for it to finish and "
                        "run the command again, or raise --lock-timeout. Nothing was written"
                    ) from None
            conn.execute("SELECT set_config('lock_timeout', '0', true)")
            yield
    except psycopg.errors.InsufficientPrivilege:
        raise _permission_denied(
            "change the registry",
            "so nothing was written: writes need a member of the "
            "registry_writer role (a registry_reader member can plan, list and resolve only)",
        ) from None
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"lost the connection to the database during apply: {str(error).strip()}. "
            "The transaction was rolled back and nothing was written; run the command again"
        ) from None


def require_revision(conn: psycopg.Connection, environment: str, base_revision: int) -> int:
    """The environment's revision, or StaleRevision when a plan's base is not it."""
    current = revision(conn, environment)
    if current != base_revision:
        raise StaleRevision(
            f"saved plan is stale: environment {environment!r} is at revision {current}, "
            f"the plan was made at revision {base_revision}. Nothing was written; run plan "
            "again"
        )
    return current


def write_changes(
    conn: psycopg.Connection,
    environment: str,
    base_revision: int,
    writes: Sequence[EntryWrite],
    audit: AuditContext,
    *,
    bump_revision: bool = True,
) -> int:
    """Write ``writes`` inside ``environment_lock`` and return the new revision.

    Refuses a stale base revision, writes the entries, appends one audit row
    per write, bumps the revision once and queues the changed cache keys in
    the outbox. Rows travel by COPY: a handful of round trips and no per-row
    statement, whatever the number of rows. A bump also notifies ``registry_changes``
    listeners (the controller) at commit. ``bump_revision=False`` is for liveness
    (the controller's ready/pending moves): not desired state, so saved plans stay valid.
    """
    current = require_revision(conn, environment, base_revision)
    with conn.cursor() as cur:
        new_revision = current
        if bump_revision:
            new_revision = cur.execute(
                "INSERT INTO registry_revisions (environment, revision) VALUES (%s, 1)"
                " ON CONFLICT (environment) DO UPDATE"
                " SET revision = registry_revisions.revision + 1 RETURNING revision",
                (environment,),
            ).fetchone()[0]
            cur.execute("SELECT pg_notify(%s, %s)", (CHANGES_CHANNEL, environment))
        cur.execute(_STAGE)
        with cur.copy("COPY registry_writes FROM STDIN") as copy:
            for position, w in enumerate(writes):
                copy.write_row(
                    (
                        position,
                        w.action,
                        w.entry.model_name,
                        w.entry.environment,
                        w.entry.namespace,
                        w.entry.endpoint,
                        w.entry.status,
                        w.observed.health if w.observed else w.entry.health,
                        w.entry.managed_by,
                        w.observed.checked_at if w.observed else w.entry.last_health_check,
                        w.entry.deregistered,
                        w.reason,
                    )
                )
        cur.execute(
            _WRITE,
            {
                "environment": environment,
                "create": Action.CREATE,
                "key_prefix": cache_key(environment, ""),
                "revision": new_revision,
                "plan_id": audit.plan_id,
                "actor": audit.actor,
                "commit_sha": audit.commit_sha,
                "pipeline_url": audit.pipeline_url,
            },
        )
        # The next environment of the same transaction stages its own rows.
        cur.execute("DROP TABLE registry_writes")
    return new_revision


def record_health(
    conn: psycopg.Connection, environment: str, records: Sequence[HealthRecord]
) -> None:
    """Store observed health and its time, inside ``environment_lock``, in one statement.

    Health is not a change: no revision bump, no audit row, no cache
    invalidation, ``updated_at`` untouched, so saved plans stay valid. An
    older observation (a saved plan applied late) never overwrites a newer one.
    """
    if not records:
        return
    conn.execute(
        """
        UPDATE model_registry_entries AS e
        SET health = o.health, last_health_check = o.checked_at, probe = COALESCE(o.probe, e.probe)
        FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::text[])
             AS o(model_name, health, checked_at, probe)
        WHERE e.environment = %s AND e.model_name = o.model_name
          AND (e.last_health_check IS NULL OR e.last_health_check <= o.checked_at)
        """,
        (
            [r.model_name for r in records],
            [r.health for r in records],
            [r.checked_at for r in records],
            [r.probe for r in records],
            environment,
        ),
    )


class Liveness(NamedTuple):
    """What is recorded about whether an entry is routable now (see record_health)."""

    health: str
    checked_at: Any  # datetime | None
    probe: str | None
    reason: str | None


def recorded_liveness(
    conn: psycopg.Connection, environment: str, model_names: Sequence[str]
) -> dict[str, Liveness]:
    """The recorded health, probe verdict and pending reason of ``model_names``."""
    rows = conn.execute(
        "SELECT model_name, health, last_health_check, probe, status_reason"
        " FROM model_registry_entries WHERE environment = %s AND model_name = ANY(%s)",
        (environment, list(model_names)),
    )
    return {row[0]: Liveness(*row[1:]) for row in rows}


def revisions(conn: psycopg.Connection, environments: Sequence[str]) -> dict[str, int]:
    """The revision of each of ``environments`` (absent: never applied), one indexed query."""
    rows = conn.execute(
        "SELECT environment, revision FROM registry_revisions WHERE environment = ANY(%s)",
        (list(environments),),
    )
    return dict(rows.fetchall())


def status_counts(conn: psycopg.Connection, environment: str) -> dict[str, int]:
    """How many entries of ``environment`` are ready, pending, disabled or deregistered."""
    rows = conn.execute(
        "SELECT CASE WHEN deregistered_at IS NULL THEN status ELSE 'deregistered' END, count(*)"
        " FROM model_registry_entries WHERE environment = %s GROUP BY 1",
        (environment,),
    )
    return dict(rows.fetchall())
