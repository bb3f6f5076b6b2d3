"""operations: `plan`/`apply` as library calls, against a real database and a fake cluster."""

from __future__ import annotations

import pytest

from reconciler import operations, saved_plan
from reconciler.audit_fields import NO_JOB
from reconciler.reconcile import plan_manifests
from registry import store
from registry.errors import ApplyRefused, ManifestInvalid, StaleRevision
from tests.fakes.kube import FakeKube
from tests.helpers import kube_source, manifest, manifest_file, write

ENV = "production"


class Heard:
    """The notify and warn callbacks, and the connections made, of one operation."""

    def __init__(self, conn=None) -> None:
        self.conn = conn
        self.notes: list[str] = []
        self.warnings: list[str] = []
        self.connects = 0

    def connect(self):
        self.connects += 1
        return self.conn


def no_kube(heard: Heard):
    return operations.health_for(
        source=kube_source(), kube_context=None, no_kube=True, notify=heard.notes.append
    )


def unreachable(manifest, desired):
    raise AssertionError("a saved plan is applied without observing the cluster")


def prepare(paths, heard: Heard, kube=None, *, wait=False, timeout=0.0, auto_approve=False):
    return operations.prepare_apply(
        paths,
        connect=heard.connect,
        kube=kube or no_kube(heard),
        wait=wait,
        timeout=timeout,
        auto_approve=auto_approve,
        plan_key=None,
        notify=heard.notes.append,
        warn=heard.warnings.append,
    )


def apply(prepared, *, allow_mass_removal: bool = False):
    return operations.apply_prepared(
        prepared,
        actor="test",
        job=NO_JOB,
        lock_timeout=5,
        cache=None,
        allow_mass_removal=allow_mass_removal,
    )


def test_prepare_from_manifests_plans_without_writing(conn, tmp_path):
    heard = Heard(conn)

    prepared = prepare([manifest_file(tmp_path, ENV, "llama-2-7b")], heard, auto_approve=True)

    assert heard.connects == 1
    assert (prepared.reviewed, prepared.saved, prepared.has_changes) == (True, False, True)
    assert prepared.replan is not None
    assert [c.after.model_name for c in prepared.plans[0].changes] == ["llama-2-7b"]
    assert store.revision(conn, ENV) == 0
    assert not prepare([manifest_file(tmp_path, ENV, "a")], Heard(conn)).reviewed  # needs a prompt
    [result] = apply(prepared)
    assert result.revision == 1
    assert [e.model_name for e in store.list_entries(conn, environment=ENV)] == ["llama-2-7b"]


def test_prepare_from_a_saved_plan_reads_it_exactly_and_warns_when_unsigned(
    conn, tmp_path, monkeypatch
):
    monkeypatch.delenv(saved_plan.PLAN_KEY_VARIABLE, raising=False)
    loaded = operations.manifests([manifest_file(tmp_path, ENV, "a")], notify=pytest.fail)
    plans = plan_manifests(conn, loaded, lambda m, desired: None)
    saved = tmp_path / "plan.json"
    saved_plan.write(saved, plans, key=None)
    heard = Heard(conn)

    prepared = prepare([saved], heard, unreachable)

    assert (prepared.reviewed, prepared.saved, prepared.replan) == (True, True, None)
    assert prepared.plans == plans
    [warning] = heard.warnings
    assert f"{saved_plan.PLAN_KEY_VARIABLE} is unset, so the origin of {saved}" in warning
    assert heard.connects == 1
    apply(prepared)
    assert store.revision(conn, ENV) == 1


def test_a_saved_plan_with_wait_is_refused_before_connecting(tmp_path):
    saved = tmp_path / "plan.json"
    saved.write_text("{}")
    heard = Heard()

    with pytest.raises(ApplyRefused, match="--wait re-plans from the manifests"):
        prepare([saved], heard, unreachable, wait=True, timeout=5)

    assert heard.connects == 0


def test_invalid_manifests_are_told_and_refused_before_connecting(tmp_path):
    bad = manifest_file(tmp_path, ENV, "Not_A_Name")
    heard = Heard()

    with pytest.raises(ManifestInvalid, match=r"1 error\(s\) in the manifests"):
        prepare([bad], heard)

    assert heard.connects == 0
    assert any(str(bad) in note for note in heard.notes)


def test_wait_for_health_replans_until_healthy(conn, kube: FakeKube, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    kube.ready_after_lists("llama-2-7b-production", "system", 1)
    heard = Heard(conn)
    loaded = operations.manifests([manifest_file(tmp_path, ENV, "llama-2-7b")], notify=pytest.fail)
    health = operations.health_for(
        source=kube_source(), kube_context=None, no_kube=False, notify=heard.notes.append
    )

    plans = operations.wait_for_health(
        conn, loaded, health, 120, notify=heard.notes.append, warn=heard.warnings.append
    )

    assert [o.health for o in plans[0].observations] == ["Healthy"]
    assert heard.notes[0].startswith("Waiting for 1 deployment(s) to become healthy")
    assert "production/llama-2-7b" in heard.notes[0]
    assert heard.warnings == []


def test_wait_for_health_timing_out_warns_and_returns_the_last_plans(
    conn, kube: FakeKube, tmp_path
):
    kube.add_model("gpt-neo", ENV, paused=True)
    heard = Heard(conn)

    prepared = prepare(
        [manifest_file(tmp_path, ENV, "gpt-neo")],
        heard,
        operations.health_for(
            source=kube_source(), kube_context=None, no_kube=False, notify=heard.notes.append
        ),
        wait=True,
        timeout=0.5,
    )

    assert heard.warnings == [
        "--wait timed out after 0.5 s; applying production/gpt-neo as pending"
    ]
    assert [c.after.status for c in prepared.plans[0].changes] == ["pending"]
    assert store.revision(conn, ENV) == 0


def test_mass_removal_is_refused_without_writing(conn, tmp_path):
    apply(prepare([manifest_file(tmp_path, ENV, "a", "b", "c")], Heard(conn)))
    gutted = prepare([write(tmp_path / "g.yaml", manifest(ENV, "a", prune=True))], Heard(conn))
    assert gutted.plans[0].mass_removal

    with pytest.raises(ApplyRefused, match="refusing to apply: the plan for production"):
        operations.refuse_mass_removal(gutted.plans, allowed=False)

    assert store.revision(conn, ENV) == 1
    operations.refuse_mass_removal(gutted.plans, allowed=True)
    apply(gutted, allow_mass_removal=True)
    assert store.revision(conn, ENV) == 2


def test_a_plan_changed_under_the_lock_is_stale_and_writes_nothing(conn, tmp_path):
    first = prepare([manifest_file(tmp_path, ENV, "a")], Heard(conn))
    apply(
        prepare([write(tmp_path / "o.yaml", manifest(ENV, "name: a, enabled: false"))], Heard(conn))
    )

    with pytest.raises(StaleRevision, match="the registry changed while this plan was made"):
        apply(first)

    [entry] = store.list_entries(conn, environment=ENV)
    assert entry.status == "disabled"
