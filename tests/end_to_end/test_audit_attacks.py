"""Attack findings F4-F6 on the audit log and the roles, fixed (issue 11).

F4: the hash chain is anchored (newest row against the revision, --expect-head).
F5: a registry_writer member cannot append forged audit rows (migration 0004).
F6: a registry_reader member (the merge-request credential) cannot block applies.
"""

from __future__ import annotations

import re
import zlib

import psycopg
import pytest

from reconciler import operator
from reconciler.apply import apply_current
from registry import store
from registry.errors import LockTimeout
from tests.helpers import applied, fails, listed, manifest, write

HEAD = re.compile(r"^head of (\S+): record (\d+), revision (\d+), --expect-head (\S+)$", re.M)


def verified(cli, *expect: str) -> dict[str, tuple[int, int, str]]:
    """`history --verify` succeeded: each environment's (record, revision, ENV=HASH)."""
    args = [arg for head in expect for arg in ("--expect-head", head)]
    result = cli("history", "--verify", *args)
    assert result.returncode == 0, result.stderr
    return {m[0]: (int(m[1]), int(m[2]), m[3]) for m in HEAD.findall(result.stdout)}


def owner_deletes(conn, condition: str) -> None:
    conn.execute("ALTER TABLE registry_audit_log DISABLE TRIGGER USER")
    conn.execute(f"DELETE FROM registry_audit_log WHERE {condition}")
    conn.execute("ALTER TABLE registry_audit_log ENABLE TRIGGER USER")


# --- F4: the chain's end is anchored ---


def test_deleting_the_newest_audit_row_is_named_by_verify(conn, cli, production):
    assert cli("disable", "-m", "gpt-neo", "-e", "production").returncode == 0
    owner_deletes(conn, "id = (SELECT max(id) FROM registry_audit_log)")
    fails(
        cli("history", "--verify"),
        "environment 'production' is at revision 2 but its newest audit record is of revision 1",
    )


def test_verify_prints_each_head_and_accepts_it_later(cli, production, tmp_path):
    applied(cli, write(tmp_path / "staging.yaml", manifest("staging", "name: gpt-neo")))
    heads = verified(cli)
    assert sorted(heads) == ["production", "staging"]
    assert heads["production"][1] == 1 and heads["staging"][1] == 1
    assert cli("disable", "-m", "gpt-neo", "-e", "production").returncode == 0
    # the head recorded before the disable is still in the chain, and so is the new one
    later = verified(cli, heads["production"][2], heads["staging"][2])
    assert later["production"][1] == 2 and later["production"][0] > heads["production"][0]
    verified(cli, later["production"][2])


def test_a_chain_the_owner_recomputed_misses_the_recorded_head(conn, cli, production):
    head = verified(cli)["production"][2]
    # the owner rewrites a row and the whole chain after it: --verify alone cannot tell
    conn.execute("ALTER TABLE registry_audit_log DISABLE TRIGGER USER")
    conn.execute("UPDATE registry_audit_log SET actor = 'mallory' WHERE model_name = 'gpt-neo'")
    conn.execute(
        "UPDATE registry_audit_log AS l SET chain_hash = c.chain_hash FROM ("
        " SELECT id, registry_audit_chain(NULL, registry_audit_content(recorded_at, environment,"
        "  revision, plan_id, action, model_name, actor, commit_sha, pipeline_url, before, after))"
        "  OVER (PARTITION BY environment ORDER BY id) AS chain_hash FROM registry_audit_log"
        ") AS c WHERE l.id = c.id"
    )
    conn.execute("ALTER TABLE registry_audit_log ENABLE TRIGGER USER")
    assert verified(cli)["production"][2] != head
    fails(
        cli("history", "--verify", "--expect-head", head),
        "the chain of environment 'production' no longer contains the expected head",
    )


def test_liveness_writes_without_a_revision_bump_verify(conn, cli, production):
    """The controller's liveness writes record the current revision: the check holds."""
    current = store.get_entry(conn, "production", "gpt-neo")
    apply_current(
        conn,
        "production",
        lambda: operator.set_status(
            current, 1, model_name="gpt-neo", environment="production", action="disable"
        ),
        actor="controller",
        liveness_only=True,
    )
    assert store.revision(conn, "production") == 1
    assert verified(cli)["production"][1] == 1
    # removing every row of the newest revision is still seen
    owner_deletes(conn, "revision = 1")
    fails(cli("history", "--verify"), "newest audit record is of revision 0")


@pytest.mark.parametrize(
    "value",
    [
        "production",
        "production=abc",
        "=" + "a" * 64,
        "Prod\x1b[2J=" + "a" * 64,
        "production=" + "g" * 64,
    ],
)
def test_a_malformed_expected_head_is_an_error(cli, production, value):
    message = fails(cli("history", "--verify", "--expect-head", value))
    assert "\x1b" not in message


def test_an_expected_head_of_another_environment_is_refused(cli, production, tmp_path):
    applied(cli, write(tmp_path / "staging.yaml", manifest("staging", "name: gpt-neo")))
    heads = verified(cli)
    staging_hash = heads["staging"][2].split("=", 1)[1]
    fails(
        cli("history", "--verify", "--expect-head", f"production={staging_hash}"),
        "no longer contains the expected head",
    )


# --- F5: writers append audit rows only as the write statement makes them ---

CHAINED = """
    INSERT INTO registry_audit_log (recorded_at, environment, revision, plan_id, action,
        model_name, actor, commit_sha, pipeline_url, before, after, chain_hash)
    SELECT t, 'production', 1, 'forged', {action}, 'fake-model', {actor}, NULL, NULL,
           NULL, '{{}}'::jsonb,
           registry_audit_chain_step(NULL,
               (SELECT chain_hash FROM registry_audit_log WHERE environment = 'production'
                ORDER BY id DESC LIMIT 1),
               registry_audit_content(t, 'production', 1, 'forged', {action},
                   'fake-model', {actor}, NULL, NULL, NULL, '{{}}'::jsonb))
    FROM (SELECT {time} AS t) AS s
"""


def forged(*, action="'create'", actor="'alice'", time="timestamptz '2020-01-01'") -> str:
    return CHAINED.format(action=action, actor=actor, time=time)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(forged(), id="back-dated"),
        pytest.param(
            "INSERT INTO registry_audit_log (id, environment, revision, plan_id, action,"
            " model_name, actor, after, chain_hash) VALUES (1000000, 'production', 1, 'p',"
            " 'create', 'fake-model', 'alice', '{}', '\\x00')",
            id="garbage-hash-and-id",
        ),
        pytest.param(forged(time="now()", action="'grant'"), id="unknown-action"),
        pytest.param(forged(time="now()", actor="E'alice\\x1b[2J'"), id="control-characters"),
        pytest.param(forged(time="now()").replace("'fake-model'", "'Fake Model'"), id="model-name"),
    ],
)
def test_a_writer_cannot_append_a_forged_audit_row(conn, cli, login, production, statement):
    writer = login("registry_writer")
    with psycopg.connect(writer, autocommit=True) as session, pytest.raises(psycopg.Error):
        session.execute(statement)
    assert verified(cli)["production"][1] == 1
    assert {r.plan_id for r in store.history(conn)} != {"forged"}
    assert len(store.history(conn)) == 3


def test_a_writer_cannot_choose_a_sequence_id_either(cli, login, production):
    writer = login("registry_writer")
    with psycopg.connect(writer, autocommit=True) as session, pytest.raises(psycopg.Error):
        session.execute(
            "INSERT INTO registry_audit_log (id, environment, revision, plan_id, action,"
            " model_name, actor, after, chain_hash)"
            " SELECT nextval('registry_audit_log_id_seq') + 5, 'production', 1, 'p', 'create',"
            " 'fake-model', 'alice', '{}', '\\x00'"
        )


def test_a_writer_s_honest_looking_row_is_the_documented_limit(cli, login, production):
    """A row in the chain's format, at the current time, is accepted: no key signs it."""
    writer = login("registry_writer")
    with psycopg.connect(writer, autocommit=True) as session:
        session.execute(forged(time="now()"))
    assert verified(cli)["production"][0] > 0


# --- F6: only a writer can hold an environment's apply lock ---


def test_a_reader_cannot_block_an_apply(cli, login, production):
    reader = login("registry_reader")
    with psycopg.connect(reader, autocommit=True) as session:
        # the advisory locks applies used to take, whatever their key
        old_key = zlib.crc32(b"production") - 2**31
        session.execute("SELECT pg_advisory_lock(%s, %s)", (0x72656769, old_key))
        session.execute("SELECT pg_advisory_lock(%s)", (old_key,))
        for statement in (
            "SELECT * FROM registry_revisions FOR UPDATE",
            "SELECT * FROM registry_revisions FOR KEY SHARE",
            "SELECT * FROM model_registry_entries FOR SHARE",
            "LOCK TABLE registry_revisions IN EXCLUSIVE MODE",
            "LOCK TABLE model_registry_entries IN SHARE MODE",
        ):
            with (
                psycopg.connect(reader) as other,  # in a transaction, as LOCK TABLE needs
                pytest.raises(psycopg.errors.InsufficientPrivilege),
            ):
                other.execute(statement)
        # what a reader may lock does not conflict with an apply
        session.execute("BEGIN")
        session.execute(
            "LOCK TABLE registry_revisions, model_registry_entries IN ACCESS SHARE MODE"
        )
        result = cli("disable", "-m", "gpt-neo", "-e", "production", "--lock-timeout", "1")
        session.execute("COMMIT")
    assert result.returncode == 0, result.stderr
    assert (
        next(e for e in listed(cli, "--environment", "production") if e["model_name"] == "gpt-neo")[
            "status"
        ]
        == "disabled"
    )


def test_a_reader_cannot_take_the_lock_through_the_cli(cli, login, production):
    reader = login("registry_reader")
    result = cli("disable", "-m", "gpt-neo", "-e", "new-env", env={"DATABASE_URL": reader})
    fails(result, "may not change the registry")


def test_lock_timeout_zero_fails_at_once_when_a_writer_holds_it(conn, database_url, production):
    with psycopg.connect(database_url) as holder:
        store.lock_environment_row(holder, "production")
        current = store.get_entry(conn, "production", "gpt-neo")
        with pytest.raises(LockTimeout, match="another apply holds the lock on environment"):
            apply_current(
                conn,
                "production",
                lambda: operator.set_status(
                    current, 1, model_name="gpt-neo", environment="production", action="disable"
                ),
                lock_timeout=0,
            )
    assert store.get_entry(conn, "production", "gpt-neo").status == "ready"


def test_an_environment_never_applied_is_locked_too(conn, database_url):
    """The lock row of a new environment is made at revision 0, which reads as none."""
    with psycopg.connect(database_url) as holder:
        store.lock_environment_row(holder, "fresh")
        plan = operator.register(None, 0, model_name="a", environment="fresh")
        with pytest.raises(LockTimeout, match="environment 'fresh'"):
            apply_current(conn, "fresh", lambda: plan, lock_timeout=0.2)
        holder.rollback()
    assert store.revision(conn, "fresh") == 0
    assert apply_current(conn, "fresh", lambda: plan).revision == 1
