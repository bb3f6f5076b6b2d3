"""The audit log's hash chain over large applies: set-based, and it verifies."""

from __future__ import annotations

from reconciler.apply import apply
from reconciler.diff import plan_environment
from registry import names, store
from registry.entry import Entry

MODELS = 10_000


def desired(environment: str, port: int) -> list[Entry]:
    return [
        Entry(name, environment, "system", names.convention_endpoint(name, environment, port=port))
        for name in (f"m{i}" for i in range(MODELS))
    ]


def test_a_10000_model_apply_chains_every_row_and_the_next_apply_continues_it(conn):
    for environment in ("production", "staging"):
        plan = plan_environment(
            desired(environment, 8000), [], environment=environment, revision=0, prune=False
        )
        apply(conn, plan, actor="ci")
    assert store.verify_audit_chain(conn).records == 2 * MODELS
    current = store.list_entries(conn, environment="production")
    update = plan_environment(
        desired("production", 8080), current, environment="production", revision=1, prune=False
    )
    assert len(update.changes) == MODELS
    apply(conn, update, actor="ci")
    assert store.verify_audit_chain(conn).records == 3 * MODELS
    # each environment's chain starts from nothing and links every row to the one before
    firsts = conn.execute(
        "SELECT DISTINCT ON (environment) environment, chain_hash = sha256(registry_audit_content("
        "recorded_at, environment, revision, plan_id, action, model_name, actor, commit_sha,"
        " pipeline_url, before, after)) FROM registry_audit_log ORDER BY environment, id"
    ).fetchall()
    assert firsts == [("production", True), ("staging", True)]
