"""The pure diff: desired entries + registry rows (+ health) -> Plan."""

from __future__ import annotations

from reconciler.diff import plan_environment
from reconciler.health import Health
from reconciler.plan import FieldChange, Plan
from registry.entry import Entry
from tests.helpers import entry

ENV = "production"


def desired(name: str, status: str = "ready", **fields) -> Entry:
    """An entry as a manifest declares it."""
    return entry(name, ENV, status=status, **{"managed_by": "manifest", **fields})


def row(name: str, status: str = "ready", id: int = 1, **fields) -> Entry:
    """A registry row: has an id, unlike a desired entry."""
    return desired(name, status, id=id, **fields)


def plan(declared, current, *, prune=False, health=None, revision=3) -> Plan:
    return plan_environment(
        declared, current, environment=ENV, revision=revision, prune=prune, health=health
    )


def actions(result: Plan) -> list[tuple[str, str]]:
    return [(c.action, c.model_name) for c in result.changes]


def test_everything_new_is_created():
    result = plan([desired("llama-2-7b"), desired("gpt-neo", "disabled")], [])
    assert actions(result) == [("create", "llama-2-7b"), ("create", "gpt-neo")]
    assert result.changes[1].after.status == "disabled"
    assert (result.environment, result.base_revision, result.unchanged) == (ENV, 3, 0)
    assert result.mass_removal is None


def test_matching_rows_are_unchanged():
    result = plan([desired("llama-2-7b")], [row("llama-2-7b", health="Healthy")])
    assert not result.has_changes
    assert result.unchanged == 1


def test_endpoint_change_is_an_update_with_field_differences():
    moved = desired("llama-2-7b", namespace="inference")
    result = plan([moved], [row("llama-2-7b")])
    assert actions(result) == [("update", "llama-2-7b")]
    change = result.changes[0]
    assert change.fields == (
        FieldChange(
            "endpoint",
            "llama-2-7b-production.system.svc.cluster.local:8000",
            "llama-2-7b-production.inference.svc.cluster.local:8000",
        ),
        FieldChange("namespace", "system", "inference"),
    )
    assert change.after.id == 1  # bookkeeping of the row is kept


def test_enable_and_disable():
    result = plan(
        [desired("llama-2-7b"), desired("gpt-neo", "disabled")],
        [row("llama-2-7b", "disabled", 1), row("gpt-neo", "ready", 2)],
    )
    assert actions(result) == [("enable", "llama-2-7b"), ("disable", "gpt-neo")]
    assert result.changes[0].fields == (FieldChange("status", "disabled", "ready"),)


def test_a_deregistered_row_listed_again_is_enabled():
    gone = row("llama-2-7b", "disabled", deregistered=True)
    result = plan([desired("llama-2-7b")], [gone])
    assert actions(result) == [("enable", "llama-2-7b")]
    assert not result.changes[0].after.deregistered


def test_a_deregistered_row_listed_as_disabled_is_an_update_not_an_enable():
    gone = row("llama-2-7b", "disabled", deregistered=True)
    result = plan([desired("llama-2-7b", "disabled")], [gone])
    assert actions(result) == [("update", "llama-2-7b")]
    assert result.changes[0].after.status == "disabled"


def test_unlisted_rows_are_unmanaged_without_prune():
    result = plan([desired("llama-2-7b")], [row("llama-2-7b", id=1), row("gpt-neo", id=2)])
    assert not result.has_changes
    assert result.unmanaged == ("gpt-neo",)


def test_unlisted_rows_are_deregistered_with_prune():
    result = plan(
        [desired("llama-2-7b")], [row("llama-2-7b", id=1), row("gpt-neo", id=2)], prune=True
    )
    assert actions(result) == [("deregister", "gpt-neo")]
    after = result.changes[0].after
    assert (after.status, after.deregistered) == ("disabled", True)
    assert result.unmanaged == ()


def test_already_deregistered_rows_are_neither_unmanaged_nor_changed():
    gone = row("gpt-neo", "disabled", 2, deregistered=True)
    for prune in (False, True):
        result = plan([desired("llama-2-7b")], [row("llama-2-7b"), gone], prune=prune)
        assert (result.changes, result.unmanaged) == ((), ())


def test_cli_entries_that_already_match_are_not_changes():
    registered = row("llama-2-7b", managed_by="cli")
    assert not plan([desired("llama-2-7b")], [registered]).has_changes


def test_cli_entries_are_taken_over_when_they_change():
    registered = row("llama-2-7b", "disabled", managed_by="cli")
    result = plan([desired("llama-2-7b")], [registered])
    assert actions(result) == [("update", "llama-2-7b")]
    assert {f.name for f in result.changes[0].fields} == {"status", "managed_by"}
    assert result.changes[0].after.managed_by == "manifest"


# --- health --------------------------------------------------------------------------------


def test_without_observation_enabled_models_are_ready():
    result = plan([desired("llama-2-7b")], [row("llama-2-7b", "pending")], health=None)
    assert actions(result) == [("update", "llama-2-7b")]
    assert result.changes[0].after.status == "ready"


def test_healthy_deployments_are_ready():
    health = {"llama-2-7b": Health("Healthy", ready_replicas=1, replicas=1)}
    result = plan([desired("llama-2-7b")], [], health=health)
    assert result.changes[0].after.status == "ready"
    assert result.changes[0].after.health == "Healthy"
    assert result.changes[0].reason is None


def test_unhealthy_deployments_are_pending_with_the_reason():
    health = {"llama-2-7b": Health("Progressing", "0 of 1 updated replicas are available")}
    result = plan([desired("llama-2-7b"), desired("gpt-neo")], [], health=health)
    by_name = {c.model_name: c for c in result.changes}
    assert by_name["llama-2-7b"].after.status == "pending"
    assert by_name["llama-2-7b"].reason == "0 of 1 updated replicas are available"
    assert by_name["gpt-neo"].after.status == "pending"  # not observed at all
    assert by_name["gpt-neo"].reason == "deployment is Missing"


def test_a_ready_entry_whose_deployment_broke_is_planned_to_pending():
    health = {"llama-2-7b": Health("Degraded", "progress deadline exceeded")}
    result = plan([desired("llama-2-7b")], [row("llama-2-7b")], health=health)
    assert actions(result) == [("update", "llama-2-7b")]
    assert result.changes[0].fields == (FieldChange("status", "ready", "pending"),)
    assert result.changes[0].reason == "progress deadline exceeded"


def test_disabled_models_stay_disabled_whatever_their_health():
    health = {"gpt-neo": Health("Missing", "deployment not found")}
    result = plan([desired("gpt-neo", "disabled")], [row("gpt-neo", "disabled")], health=health)
    assert not result.has_changes


# --- mass removal --------------------------------------------------------------------------


def four_ready():
    return [row(name, id=i) for i, name in enumerate(["a1", "b2", "c3", "d4"], 1)]


def test_removing_most_ready_entries_is_flagged():
    result = plan([desired("a1")], four_ready(), prune=True)
    assert actions(result) == [("deregister", "b2"), ("deregister", "c3"), ("deregister", "d4")]
    assert result.mass_removal == (
        "this plan disables or deregisters 3 of the 4 ready entries (b2, c3, d4): the router "
        "would lose most of this environment. If that is intended, apply with "
        "--allow-mass-removal"
    )
    assert result.to_dict()["mass_removal"] == result.mass_removal
    assert Plan.from_dict(result.to_dict()).mass_removal == result.mass_removal


def test_disabling_counts_as_removal():
    declared = [desired("a1"), desired("b2"), desired("c3", "disabled"), desired("d4", "disabled")]
    assert plan(declared, four_ready()[:3] + [row("d4", id=4)]).mass_removal is None  # 2 of 4
    declared[1] = desired("b2", "disabled")
    assert plan(declared, four_ready()).mass_removal is not None  # 3 of 4


def test_half_is_not_more_than_half():
    result = plan([desired("a1"), desired("b2")], four_ready(), prune=True)
    assert len(result.changes) == 2
    assert result.mass_removal is None


def test_removing_the_only_entry_is_not_mass_removal():
    assert plan([], [row("a1")], prune=True).mass_removal is None


def test_two_of_three_is_mass_removal():
    rows = four_ready()[:3]
    assert plan([desired("a1")], rows, prune=True).mass_removal is not None


def test_entries_that_were_not_ready_do_not_count():
    rows = [row("a1", id=1), row("b2", "disabled", 2), row("c3", "pending", 3)]
    assert plan([], rows, prune=True).mass_removal is None
