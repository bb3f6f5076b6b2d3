"""Saved plans are verified, not trusted: every edit of issue 11, through the installed CLI.

The attacker edits plan.json and recomputes the plain sha256 checksum, as anyone who
can edit the artifact can; without REGISTRY_PLAN_KEY only the checks of each change
stand between the file and the registry, with it the signature does too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import applied, apply_refused, cli_state, listed, manifest, tamper, write

KEY = {"REGISTRY_PLAN_KEY": "test-plan-key"}


@pytest.fixture
def add_plan(cli, tmp_path) -> Path:
    """production: three ready models and one disabled; a saved plan that adds phi-2."""
    models = ("name: llama-2-7b", "name: gpt-neo", "name: mistral-7b")
    applied(cli, write(tmp_path / "base.yaml", manifest("production", *models, "name: falcon-7b")))
    added = write(tmp_path / "add.yaml", manifest("production", *models, "name: phi-2"))
    saved = tmp_path / "plan.json"
    assert cli("plan", str(added), "--out", str(saved)).returncode == 0
    return saved


def first_change(data: dict) -> dict:
    return data["changes"][0]


def test_an_unedited_saved_plan_applies_and_says_its_origin_is_unverified(cli, add_plan):
    result = cli("apply", str(add_plan))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("REGISTRY_PLAN_KEY is unset") == 1
    assert "phi-2" in {e["model_name"] for e in json.loads(cli("list", "-o", "json").stdout)}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: first_change(d)["after"].update(endpoint="evil.example.com:443"),
            "invalid endpoint 'evil.example.com:443'",
        ),
        (
            lambda d: first_change(d)["after"].update(
                endpoint="evil.com:80/x.svc.cluster.local:8000"
            ),
            "an endpoint must be an in-cluster Service",
        ),
        (
            lambda d: first_change(d)["after"].update(environment="staging"),
            "an entry of environment 'staging' in the plan of environment 'production'",
        ),
        (
            lambda d: (
                first_change(d)["after"].update(model_name="phi\n\x1b[2Jx"),
                first_change(d).update(model_name="phi\n\x1b[2Jx"),
            ),
            "invalid model name 'phi\\n\\x1b[2Jx'",
        ),
        (lambda d: first_change(d).update(action="explode"), "unknown action 'explode'"),
        (lambda d: first_change(d)["after"].update(status="weird"), "unknown status 'weird'"),
        (lambda d: first_change(d)["after"].update(health="Great"), "unknown health 'Great'"),
        (
            lambda d: first_change(d)["after"].update(managed_by="root"),
            "unknown managed_by 'root'",
        ),
        (lambda d: first_change(d).update(action="update"), "action 'update' and its fields"),
        (
            lambda d: first_change(d).update(model_name="llama-2-7b"),
            "model_name 'llama-2-7b' is not the model the change is about ('phi-2')",
        ),
        (
            lambda d: first_change(d).update(fields=[{"name": "x", "old": 1, "new": 2}]),
            "action 'create' and its fields do not describe the change",
        ),
        (lambda d: d["changes"].append(first_change(d)), "model 'phi-2' is changed twice"),
        (lambda d: d.update(plan_id="\x1b]0;pwned\x07"), "is not a plan id"),
        (lambda d: d.update(revision="1"), "revision '1' is not a non-negative integer"),
        (lambda d: d.update(environment="Production"), "invalid environment 'Production'"),
        (
            lambda d: d["observations"].append(
                {"model_name": "phi-2", "health": "Owned", "checked_at": "2026-01-01T00:00:00"}
            ),
            "unknown health 'Owned'",
        ),
        (lambda d: first_change(d).update(after=[1, 2]), "is not a saved plan"),
    ],
    ids=[
        "endpoint-outside",
        "endpoint-path",
        "other-environment",
        "control-characters",
        "unknown-action",
        "unknown-status",
        "unknown-health",
        "unknown-manager",
        "action-not-the-change",
        "model-name-mismatch",
        "fields-not-the-change",
        "duplicate-model",
        "plan-id",
        "revision-type",
        "environment-name",
        "observation-health",
        "after-not-an-entry",
    ],
)
def test_an_edited_saved_plan_is_refused(cli, add_plan, edit, message):
    apply_refused(cli, tamper(add_plan, edit), message)


def test_a_change_moved_to_another_environment_is_refused(cli, add_plan, tmp_path):
    # Moving the whole change (before and after) to production inside development's plan.
    dev = write(tmp_path / "dev.yaml", manifest("development", "name: gpt-neo"))
    saved = tmp_path / "dev.json"
    assert cli("plan", str(dev), "--out", str(saved)).returncode == 0
    production_change = first_change(json.loads(add_plan.read_text()))
    tamper(saved, lambda d: d["changes"].__setitem__(0, production_change))
    apply_refused(cli, saved, "an entry of environment 'production' in the plan of environment")


def test_a_create_of_a_registered_model_is_refused_against_the_registry(cli, add_plan):
    # The file claims falcon-7b is new (before: null); the registry has it.
    def edit(d):
        change = first_change(d)
        change["model_name"] = change["after"]["model_name"] = "falcon-7b"
        change["after"]["endpoint"] = "falcon-7b-production.system.svc.cluster.local:8000"

    apply_refused(cli, tamper(add_plan, edit), "saved plan does not match the registry")


def test_a_nulled_mass_removal_is_recomputed_under_the_lock(cli, add_plan, tmp_path):
    gutted = write(tmp_path / "gutted.yaml", manifest("production", "name: gpt-neo", prune=True))
    saved = tmp_path / "gutted.json"
    assert cli("plan", str(gutted), "--out", str(saved)).returncode == 0
    assert json.loads(saved.read_text())["mass_removal"]
    tamper(saved, lambda d: d.update(mass_removal=None))
    error = apply_refused(cli, saved, "refusing to apply: in environment 'production'")
    assert "--allow-mass-removal" in error
    assert cli("apply", str(saved), "--allow-mass-removal").returncode == 0


def test_a_plan_of_several_environments_is_applied_all_or_nothing(cli, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    for environment in ("development", "staging", "production"):
        write(folder / f"{environment}.yaml", manifest(environment, "name: gpt-neo"))
    saved = tmp_path / "plan.json"
    assert cli("plan", str(folder), "--out", str(saved)).returncode == 0
    # production moves on after the plan was made (the last environment in the file)
    assert cli("register", "-m", "phi-2", "-e", "production", "--no-verify-health").returncode == 0
    states = {env: cli_state(cli, env) for env in ("development", "staging", "production")}
    result = cli("apply", str(saved))
    assert result.returncode == 1
    assert "error: saved plan is stale: environment 'production'" in result.stderr
    assert "Nothing was written" in result.stderr
    assert {env: cli_state(cli, env) for env in states} == states
    # planned again, the three environments are written in one transaction
    assert cli("plan", str(folder), "--out", str(saved)).returncode == 0
    result = cli("apply", str(saved))
    assert result.returncode == 0, result.stderr
    for environment in states:
        assert [e["model_name"] for e in listed(cli, "--environment", environment)][-1] == "gpt-neo"
    assert cli("history", "--verify").stdout.splitlines()[0] == "4 audit records verified."


def test_with_a_key_a_signed_plan_applies(cli, add_plan, tmp_path):
    signed = tmp_path / "signed.json"
    add = tmp_path / "add.yaml"
    assert cli("plan", str(add), "--out", str(signed), env=KEY).returncode == 0
    assert json.loads(signed.read_text())["signature"].startswith("hmac-sha256:")
    result = cli("apply", str(signed), env=KEY)
    assert result.returncode == 0, result.stderr
    assert "not verified" not in result.stderr


def test_with_a_key_an_unsigned_plan_is_refused(cli, add_plan):
    apply_refused(cli, add_plan, "is not signed, and REGISTRY_PLAN_KEY is set", env=KEY)


def test_with_a_key_an_edited_signed_plan_is_refused(cli, add_plan, tmp_path):
    signed = tmp_path / "signed.json"
    assert cli("plan", str(tmp_path / "add.yaml"), "--out", str(signed), env=KEY).returncode == 0
    # An edit that passes every check of a change: only the signature catches it.
    tamper(signed, lambda d: first_change(d)["after"].update(namespace="inference"))
    apply_refused(cli, signed, "has a signature that does not match REGISTRY_PLAN_KEY", env=KEY)
    other_key = {"REGISTRY_PLAN_KEY": "another-key"}
    fresh = tmp_path / "fresh.json"
    assert cli("plan", str(tmp_path / "add.yaml"), "--out", str(fresh), env=KEY).returncode == 0
    apply_refused(cli, fresh, "signed with another key", env=other_key)
