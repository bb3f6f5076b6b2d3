"""Least privilege and the tamper-evident audit log, against real PostgreSQL.

The test's superuser is the owner that migrates; LOGIN users that are members of
registry_writer and registry_reader run the CLI and try what they must not do.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.helpers import manifest, write

WRITE_ONLY_AS_OWNER = [
    "TRUNCATE registry_audit_log",
    "DELETE FROM registry_audit_log",
    "UPDATE registry_audit_log SET actor = 'nobody'",
    "ALTER TABLE registry_audit_log ADD COLUMN note text",
    "ALTER TABLE registry_audit_log DISABLE TRIGGER registry_audit_log_append_only",
    "ALTER TABLE model_registry_entries DROP CONSTRAINT model_registry_entries_endpoint_check",
    "DELETE FROM model_registry_entries",
    "DROP TABLE registry_audit_log",
]


def as_user(cli, url: str):
    def run(*args: str, env: dict | None = None, **kwargs):
        return cli(*args, env={"DATABASE_URL": url, "REGISTRY_AUTO_MIGRATE": "0", **(env or {})})

    return run


def refused_sql(url: str, statement: str) -> None:
    with (
        psycopg.connect(url, autocommit=True) as session,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        session.execute(statement)


@pytest.fixture
def production(tmp_path):
    return write(
        tmp_path / "production.yaml", manifest("production", "name: llama-2-7b", "name: gpt-neo")
    )


def test_roles_exist_without_login(conn):
    rows = conn.execute(
        "SELECT rolname, rolcanlogin FROM pg_roles"
        " WHERE rolname IN ('registry_writer', 'registry_reader') ORDER BY 1"
    ).fetchall()
    assert rows == [("registry_reader", False), ("registry_writer", False)]


def test_migrating_a_second_database_finds_the_roles_there_already(conn, empty_database_url):
    from registry import db

    db.connect(db.Target(url=empty_database_url, description="second")).close()
    with psycopg.connect(empty_database_url) as second:
        assert second.execute(
            "SELECT has_table_privilege('registry_writer', 'model_registry_entries', 'INSERT')"
        ).fetchone() == (True,)


def test_a_writer_applies_and_registers_but_cannot_rewrite_the_audit_log(cli, login, production):
    writer_url = login("registry_writer")
    writer = as_user(cli, writer_url)
    result = writer("apply", str(production), "--auto-approve")
    assert result.returncode == 0, result.stderr
    result = writer("register", "-m", "phi-2", "-e", "production", "--no-verify-health")
    assert result.returncode == 0, result.stderr
    assert writer("disable", "-m", "phi-2", "-e", "production").returncode == 0
    history = json.loads(writer("history", "--format", "json").stdout)
    assert len(history) == 4
    for statement in WRITE_ONLY_AS_OWNER:
        refused_sql(writer_url, statement)
    verified = writer("history", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[0] == "4 audit records verified."


def test_a_reader_resolves_and_plans_and_every_write_is_refused(cli, login, production, tmp_path):
    more = write(tmp_path / "more.yaml", manifest("production", "name: llama-2-7b", "name: phi-2"))
    assert cli("apply", str(production), "--auto-approve").returncode == 0
    reader_url = login("registry_reader")
    reader = as_user(cli, reader_url)
    resolved = reader("resolve", "-m", "llama-2-7b", "-e", "production")
    assert resolved.returncode == 0, resolved.stderr
    assert "llama-2-7b-production.system.svc.cluster.local:8000" in resolved.stdout
    # plan: with the default auto-migration too, since the schema is current
    for env in ({}, {"REGISTRY_AUTO_MIGRATE": "1"}):
        planned = reader("plan", str(production), "--detailed-exitcode", env=env)
        assert planned.returncode == 0, planned.stderr
        assert "No changes" in planned.stdout
    for command in (
        ("apply", str(more), "--auto-approve"),
        ("register", "-m", "phi-2", "-e", "production", "--no-verify-health"),
        ("disable", "-m", "llama-2-7b", "-e", "production"),
        ("deregister", "-m", "gpt-neo", "-e", "production"),
    ):
        result = reader(*command)
        assert result.returncode == 1, command
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .startswith("error: the database user of DATABASE_URL may not change the registry")
        ), result.stderr
        assert "Traceback" not in result.stderr
    for statement in [
        *WRITE_ONLY_AS_OWNER,
        "INSERT INTO registry_revisions VALUES ('production', 99)",
        "UPDATE model_registry_entries SET status = 'disabled'",
        "INSERT INTO registry_audit_log (environment, revision, plan_id, action, model_name,"
        " actor, chain_hash) VALUES ('x', 1, 'p', 'create', 'm', 'a', '\\x00')",
        "SELECT * FROM registry_audit_log",
    ]:
        refused_sql(reader_url, statement)
    for command in (("history",), ("history", "--verify")):
        result = reader(*command)
        assert result.returncode == 1
        assert result.stderr.startswith(
            "error: the database user of DATABASE_URL may not read the audit log"
        ), result.stderr
    assert [e["status"] for e in json.loads(cli("list", "-o", "json").stdout)] == [
        "ready",
        "ready",
    ]


def test_plan_with_a_reader_and_the_schema_behind_says_to_migrate(cli, conn, login, production):
    reader = as_user(cli, login("registry_reader"))
    # The owner's database as it was before migration 0002 was recorded.
    conn.execute("DELETE FROM registry_schema_migrations WHERE version = 2")
    for auto in ("0", "1"):
        result = reader("plan", str(production), env={"REGISTRY_AUTO_MIGRATE": auto})
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: the registry database schema is behind"), line
        assert "0002_integrity" in line
        assert "run `registry db migrate`" in line


def test_truncating_the_audit_log_is_refused_even_for_the_owner(conn, cli, production):
    assert cli("apply", str(production), "--auto-approve").returncode == 0
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("TRUNCATE registry_audit_log")
    assert conn.execute("SELECT count(*) FROM registry_audit_log").fetchone() == (2,)


def test_an_owner_s_edit_of_one_audit_row_is_named_by_verify(conn, cli, production, tmp_path):
    assert cli("apply", str(production), "--auto-approve").returncode == 0
    staging = write(tmp_path / "staging.yaml", manifest("staging", "name: gpt-neo"))
    assert cli("apply", str(staging), "--auto-approve").returncode == 0
    assert cli("register", "-m", "phi-2", "-e", "production", "--no-verify-health").returncode == 0
    assert cli("history", "--verify").stdout.splitlines()[0] == "4 audit records verified."
    [(edited,)] = conn.execute(
        "SELECT id FROM registry_audit_log WHERE model_name = 'gpt-neo'"
        " AND environment = 'production'"
    ).fetchall()
    conn.execute("ALTER TABLE registry_audit_log DISABLE TRIGGER registry_audit_log_append_only")
    conn.execute("UPDATE registry_audit_log SET actor = 'someone-else' WHERE id = %s", (edited,))
    conn.execute("ALTER TABLE registry_audit_log ENABLE TRIGGER registry_audit_log_append_only")
    result = cli("history", "--verify")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: the audit log was altered: record {edited} (production, revision 1, create "
        "'gpt-neo', recorded "
    ), result.stderr
    assert result.stdout == ""


def test_an_owner_s_deletion_of_an_audit_row_is_named_by_verify(conn, cli, production):
    assert cli("apply", str(production), "--auto-approve").returncode == 0
    assert cli("disable", "-m", "gpt-neo", "-e", "production").returncode == 0
    _, second, third = (
        row[0] for row in conn.execute("SELECT id FROM registry_audit_log ORDER BY id")
    )
    conn.execute("ALTER TABLE registry_audit_log DISABLE TRIGGER USER")
    conn.execute("DELETE FROM registry_audit_log WHERE id = %s", (second,))
    conn.execute("ALTER TABLE registry_audit_log ENABLE TRIGGER USER")
    result = cli("history", "--verify")
    assert result.returncode == 1
    assert f"error: the audit log was altered: record {third} " in result.stderr
