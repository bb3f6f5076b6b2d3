"""liveness.gate: a plan made earlier takes each enabled entry's status from the latest
recorded health and probe (pure: values in, plan out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler import liveness
from reconciler.plan import Observation, Plan, change_for
from registry.entry import Entry
from registry.store import Liveness

EARLY = datetime(2026, 1, 1, tzinfo=UTC)
LATE = EARLY + timedelta(minutes=5)


def plan_enabling(status: str, observed: str | None = "Healthy") -> Plan:
    before = Entry("llama-2-7b", "production", "system", "e:8000", status="pending")
    change = change_for(before, before.with_changes(status=status, namespace="inference"))
    seen = (Observation("llama-2-7b", observed, EARLY),) if observed else ()
    return Plan("production", 1, changes=(change,), observations=seen)


def gated(plan: Plan, recorded: Liveness) -> tuple[str, str | None]:
    (change,) = liveness.gate(plan, {"llama-2-7b": recorded}).changes
    return change.after.status, change.reason


def test_a_newer_recorded_failure_keeps_the_entry_pending():
    assert gated(plan_enabling("ready"), Liveness("Degraded", LATE, None, "deadline")) == (
        "pending",
        "deadline",
    )


def test_a_failed_probe_keeps_it_pending_whatever_the_health():
    recorded = Liveness("Healthy", EARLY, "endpoint serves [x], not llama-2-7b", None)
    assert gated(plan_enabling("ready"), recorded) == (
        "pending",
        "endpoint serves [x], not llama-2-7b",
    )


def test_a_newer_healthy_verified_record_makes_a_pending_plan_ready():
    plan = plan_enabling("pending", observed="Progressing")
    assert gated(plan, Liveness("Healthy", LATE, "ok", None)) == ("ready", None)


def test_the_plans_newer_observation_wins_over_an_older_record():
    recorded = Liveness("Degraded", EARLY - timedelta(hours=1), "ok", "old")
    assert gated(plan_enabling("ready"), recorded) == ("ready", None)


def test_never_observed_and_disabled_entries_keep_the_plans_status():
    assert gated(plan_enabling("ready", observed=None), Liveness("Unknown", None, None, None)) == (
        "ready",
        None,
    )
    assert gated(plan_enabling("disabled"), Liveness("Degraded", LATE, None, None))[0] == (
        "disabled"
    )
