"""The registry's words are StrEnums whose values are the contract, byte for byte."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from reconciler.apply import apply
from reconciler.plan import Plan, change_for
from registry import store
from registry.entry import Entry
from registry.vocabulary import Action, Health, Manager, Status

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "registry" / "migrations"


def sql_words(migration: str, column: str) -> tuple[str, ...]:
    """The values a migration's CHECK (column IN (...)) allows, in order."""
    text = (MIGRATIONS / migration).read_text()
    found = re.search(rf"{column}\s+IN \(([^)]*)\)", text)
    return tuple(re.findall(r"'([^']*)'", found.group(1)))


def test_the_words_are_the_database_s():
    assert Status.values() == sql_words("0001_initial.sql", "status")
    assert Manager.values() == sql_words("0001_initial.sql", "managed_by")
    assert Health.values() == sql_words("0002_integrity.sql", "health")
    assert Action.values() == sql_words("0004_audit_guard.sql", "action")


def test_the_words_are_the_schemas():
    plan = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    enums = {
        tuple(node["enum"])
        for node in _walk(plan)
        if isinstance(node, dict) and isinstance(node.get("enum"), list)
    }
    assert {Action.values(), Status.values(), Manager.values()} <= enums
    cache = json.loads((ROOT / "schemas" / "cache-entry.schema.json").read_text())
    assert Status.values() in {
        tuple(node["enum"]) for node in _walk(cache) if isinstance(node, dict) and "enum" in node
    }


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from _walk(child)


def test_a_member_is_its_value_in_text_and_json():
    assert (
        Status.READY == "ready"
        and str(Status.READY) == "ready"
        and f"{Health.MISSING}" == ("Missing")
    )
    assert json.dumps({"status": Status.PENDING, "action": Action.DEREGISTER}) == (
        '{"status": "pending", "action": "deregister"}'
    )
    assert {"ready": 1}[Status.READY] == 1  # plain strings read back find the members' keys


def test_membership_of_plain_strings():
    assert Status.has("ready") and Status.has(Status.DISABLED)
    assert not Status.has("Ready") and not Status.has(None) and not Action.has("delete")


def test_psycopg_sends_the_value_not_the_name(conn):
    row = conn.execute(
        "SELECT %s::text, %s::text, %s, %s",
        (Status.READY, Health.HEALTHY, Action.CREATE, Manager.CLI),
    ).fetchone()
    assert row == ("ready", "Healthy", "create", "cli")


def test_an_applied_plan_stores_the_values(conn):
    entry = Entry(
        "llama-2-7b",
        "production",
        "system",
        "llama-2-7b-production.system.svc.cluster.local:8000",
        status=Status.PENDING,
        health=Health.PROGRESSING,
        managed_by=Manager.MANIFEST,
        last_health_check=datetime.now(UTC),
    )
    plan = Plan("production", 0, (change_for(None, entry, "deployment is Progressing"),))
    apply(conn, plan, actor="tester")
    stored = conn.execute(
        "SELECT status, health, managed_by FROM model_registry_entries"
    ).fetchone()
    assert stored == ("pending", "Progressing", "manifest")
    [record] = store.history(conn)
    assert record.action == "create" and record.after["status"] == "pending"
    assert type(stored[0]) is str  # rows read back are plain strings, equal to the members
    assert stored[0] == Status.PENDING
