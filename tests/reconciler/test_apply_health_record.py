"""Observed health is recorded by every apply, as bookkeeping: never a change."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from reconciler import operator
from reconciler.apply import apply
from reconciler.plan import Observation, Plan
from registry import store

ENV = "development"
T0 = datetime(2026, 1, 27, 10, 30, tzinfo=UTC)


def counts(conn):
    return (
        store.revision(conn, ENV),
        conn.execute("SELECT count(*) FROM registry_audit_log").fetchone()[0],
        conn.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0],
    )


def register_plan(conn, model="llama-2-7b") -> Plan:
    return operator.register(
        store.get_entry(conn, ENV, model),
        store.revision(conn, ENV),
        model_name=model,
        environment=ENV,
    )


def test_a_created_entry_gets_the_health_its_plan_observed(conn):
    plan = replace(register_plan(conn), observations=(Observation("llama-2-7b", "Healthy", T0),))

    apply(conn, plan, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Healthy", T0)


def test_health_only_apply_bumps_nothing_and_keeps_saved_plans_valid(conn):
    apply(conn, register_plan(conn), actor="ci")
    before = counts(conn)
    updated_at = store.get_entry(conn, ENV, "llama-2-7b").updated_at
    saved = register_plan(conn)  # a no-change plan someone saved for later
    observed = Plan(
        ENV, before[0], observations=(Observation("llama-2-7b", "Progressing", T0, "0 of 1"),)
    )

    result = apply(conn, observed, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Progressing", T0)
    assert entry.updated_at == updated_at
    assert counts(conn) == before
    assert not result.applied and result.revision == before[0]
    assert apply(conn, saved, actor="ci").revision == before[0]  # not stale


def test_an_older_observation_never_overwrites_a_newer_one(conn):
    apply(conn, register_plan(conn), actor="ci")
    revision = store.revision(conn, ENV)
    newer = Plan(ENV, revision, observations=(Observation("llama-2-7b", "Healthy", T0),))
    older = Plan(
        ENV,
        revision,
        observations=(Observation("llama-2-7b", "Degraded", T0 - timedelta(minutes=5)),),
    )

    apply(conn, newer, actor="ci")
    apply(conn, older, actor="ci")

    entry = store.get_entry(conn, ENV, "llama-2-7b")
    assert (entry.health, entry.last_health_check) == ("Healthy", T0)


def test_observations_of_unregistered_models_write_nothing(conn):
    plan = Plan(ENV, 0, observations=(Observation("ghost", "Healthy", T0),))

    apply(conn, plan, actor="ci")

    assert store.list_entries(conn) == []
    assert counts(conn) == (0, 0, 0)


def test_observations_survive_the_saved_plan_round_trip():
    plan = Plan(ENV, 3, observations=(Observation("llama-2-7b", "Missing", T0, "not found"),))
    assert Plan.from_dict(plan.to_dict()).observations == plan.observations
