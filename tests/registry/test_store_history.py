"""store.history reads any audit row: the log is append-only, so reading must not fail.

A registry_writer member can append a row with plain SQL (the keyless chain lets
it; migration 0004's header says so), holding any jsonb before/after.
"""

from __future__ import annotations

import json

import pytest

from registry import store

REGISTER = ["register", "-m", "llama-2-7b", "-e", "development"]
DIGITS_5001 = "1" + "0" * 5000  # how PostgreSQL prints the jsonb number 1e5000


def strict_json(text: str):
    """RFC 8259 JSON: no NaN/Infinity (Python's json.loads accepts them, jq, Go, JS do not)."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def append_audit_row(url: str, after: str) -> None:
    """As a registry_writer member with plain SQL: one audit row that continues the chain."""
    import psycopg

    with psycopg.connect(url) as writer:
        writer.execute(
            """
            INSERT INTO registry_audit_log (environment, revision, plan_id, action, model_name,
                                            actor, after, chain_hash)
            SELECT 'development', 99, 'p', 'update', 'llama-2-7b', 'mallory', %(after)s::jsonb,
                   registry_audit_chain_step(NULL,
                       (SELECT chain_hash FROM registry_audit_log
                        WHERE environment = 'development' ORDER BY id DESC LIMIT 1),
                       registry_audit_content(now(), 'development', 99, 'p', 'update',
                                              'llama-2-7b', 'mallory', NULL, NULL, NULL,
                                              %(after)s::jsonb))
            """,
            {"after": after},
        )


@pytest.mark.parametrize("args", [("-o", "json"), ("-o", "csv"), ("-o", "table")])
def test_history_survives_a_huge_number_in_the_audit_log(registry, login, args):
    """Over 4300 digits is beyond Python's int(): it would fail every history for good."""
    assert registry(*REGISTER).returncode == 0
    append_audit_row(login("registry_writer"), '{"replicas": 1e5000}')
    code, out, err = registry("history", *args)
    assert code == 0, err
    if args == ("-o", "json"):
        assert [r for r in strict_json(out) if r["actor"] == "mallory"]


def test_history_json_stays_json_with_a_number_beyond_float_range(registry, login):
    """jsonb prints 1e400 as a 401-digit integer, which JSON keeps exact."""
    assert registry(*REGISTER).returncode == 0
    append_audit_row(login("registry_writer"), '{"replicas": 1e400}')
    code, out, err = registry("history", "-o", "json")
    assert code == 0, err
    assert [r["after"] for r in strict_json(out) if r["actor"] == "mallory"] == [
        {"replicas": int("1" + "0" * 400)}
    ]


def test_history_keeps_an_unreadable_number_as_its_text_and_others_as_numbers(conn, login):
    fraction = "1" + "0" * 400 + ".5"  # beyond float range: float() gives inf
    append_audit_row(
        login("registry_writer"),
        f'{{"huge": 1e5000, "wide": {fraction}, "n": -3, "x": 0.25, "s": "1e5000"}}',
    )
    (record,) = store.history(conn, environment="development", limit=1)
    assert record.actor == "mallory" and record.before is None
    assert record.after == {
        "huge": DIGITS_5001,
        "wide": fraction,
        "n": -3,
        "x": 0.25,
        "s": "1e5000",
    }
