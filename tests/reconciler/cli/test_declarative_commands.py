"""`registry validate | plan | apply | export` as operators and CI run them."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.helpers import (
    EXAMPLES,
    ROOT,
    applied,
    cli_state,
    listed,
    manifest,
    on_terminal,
    run_cli,
    write,
)


@pytest.fixture
def seeded(cli, tmp_path):
    """production: llama-2-7b, gpt-neo, mistral-7b (disabled), phi-2 ready; revision 1."""
    base = write(
        tmp_path / "base.yaml",
        manifest(
            "production",
            "name: llama-2-7b",
            "name: gpt-neo",
            "name: mistral-7b, enabled: false",
            "name: phi-2",
        ),
    )
    applied(cli, base)
    return base


# --- validate --------------------------------------------------------------------------------


def test_validate_needs_no_database(tmp_path):

    # An unreachable database proves validate never connects.
    env = {"DATABASE_URL": "postgresql://nobody:secret@127.0.0.1:1/none"}
    result = run_cli("validate", str(EXAMPLES), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "3 manifest file(s) valid (0 error(s), 0 warning(s)).\n"


def test_validate_reports_every_finding_and_fails(tmp_path):

    bad = write(tmp_path / "a.yaml", manifest("production", "name: Bad", "name: x, enabeld: true"))
    warned = write(
        tmp_path / "b.yaml",
        manifest("staging", "name: x, endpoint: y-staging.system.svc.cluster.local:8000"),
    )
    result = run_cli("validate", str(bad), str(warned))
    assert result.returncode == 1
    # findings on stderr, the verdict (the result) on stdout
    assert result.stderr.splitlines() == [
        f"{bad}:8:14: error: invalid model name 'Bad': use lower-case letters, digits and '-', "
        "starting with a letter and ending with a letter or digit (a DNS-1035 label)",
        f"{bad}:9:17: error: unknown key 'enabeld' in spec.models[1] (did you mean 'enabled'?)",
        f"{warned}:8:27: warning: endpoint y-staging.system.svc.cluster.local:8000 differs from "
        "the naming convention (x-staging.system.svc.cluster.local:8000)",
    ]
    assert "invalid, 2 error(s), 1 warning(s)" in result.stdout
    # warnings alone do not fail
    assert run_cli("validate", str(warned)).returncode == 0


# --- plan ------------------------------------------------------------------------------------


@pytest.fixture
def change_set(cli, seeded, tmp_path):
    """A realistic change: create, move, disable, enable, and one entry left unmanaged."""
    register = cli(
        "register", "--model-name", "falcon-7b", "--environment", "production", "--actor", "ops"
    )
    assert register.returncode == 0, register.stderr
    return write(
        tmp_path / "production.yaml",
        manifest(
            "production",
            "name: llama-2-7b",
            "name: gpt-neo, namespace: inference",
            "name: mistral-7b",
            "name: phi-2, enabled: false",
            "name: qwen-7b",
        ),
    )


def test_plan_text(cli, change_set):
    result = cli("plan", str(change_set))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        'Environment "production" (revision 2):\n'
        "\n"
        "  ~ gpt-neo\n"
        '      endpoint  = "gpt-neo-production.system.svc.cluster.local:8000" -> '
        '"gpt-neo-production.inference.svc.cluster.local:8000"\n'
        '      namespace = "system" -> "inference"\n'
        "  ~ mistral-7b (enable)\n"
        '      status = "disabled" -> "ready"\n'
        "  ~ phi-2 (disable)\n"
        '      status = "ready" -> "disabled"\n'
        "  + qwen-7b\n"
        '      namespace  = "system"\n'
        '      endpoint   = "qwen-7b-production.system.svc.cluster.local:8000"\n'
        '      status     = "ready"\n'
        '      managed_by = "manifest"\n'
        "\n"
        "  1 entry not in the manifest, left unchanged (spec.prune: true would deregister them):\n"
        "    ? falcon-7b\n"
        "\n"
        "Plan: 1 to create, 1 to update, 1 to enable, 1 to disable, 0 to deregister; "
        "1 unchanged.\n"
    )


def test_plan_json_follows_the_plan_schema(cli, change_set):
    from jsonschema import Draft202012Validator

    result = cli("plan", str(change_set), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    Draft202012Validator(schema).validate(data)
    assert (data["format_version"], data["environment"], data["revision"]) == ("1", "production", 2)
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "enable": 1,
        "disable": 1,
        "deregister": 0,
        "unchanged": 1,
    }
    assert [(c["action"], c["model_name"]) for c in data["changes"]] == [
        ("update", "gpt-neo"),
        ("enable", "mistral-7b"),
        ("disable", "phi-2"),
        ("create", "qwen-7b"),
    ]
    assert data["changes"][0]["before"]["namespace"] == "system"
    assert data["changes"][0]["after"]["namespace"] == "inference"
    assert data["changes"][3]["before"] is None
    assert data["unmanaged"] == ["falcon-7b"]


def test_plan_markdown(cli, change_set):
    result = cli("plan", str(change_set), "--format", "markdown")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "### Registry plan: `production` (revision 2)"
    assert "| Action | Model | Changes |" in lines
    assert (
        "| 🔄 update | `gpt-neo` | endpoint: `gpt-neo-production.system.svc.cluster.local:8000` "
        "→ `gpt-neo-production.inference.svc.cluster.local:8000`<br>namespace: `system` → "
        "`inference` |"
    ) in lines
    assert "| ⏸️ disable | `phi-2` | status: `ready` → `disabled` |" in lines
    assert any(line.startswith("| ➕ create | `qwen-7b` |") for line in lines)
    assert any(line.startswith("Unmanaged (") and "`falcon-7b`" in line for line in lines)
    assert lines[-1] == (
        "**1** to create, **1** to update, **1** to enable, **1** to disable, "
        "**0** to deregister; 1 unchanged."
    )


def test_plan_writes_nothing(cli, change_set):
    before = cli_state(cli)
    assert cli("plan", str(change_set)).returncode == 0
    assert cli_state(cli) == before


def test_detailed_exitcode(cli, seeded, change_set):
    assert cli("plan", str(change_set), "--detailed-exitcode").returncode == 2
    assert cli("plan", str(change_set)).returncode == 0  # changes, but no --detailed-exitcode
    assert cli("plan", str(seeded), "--detailed-exitcode").returncode == 0


def test_invalid_manifest_exits_1_and_touches_nothing(cli, seeded, tmp_path):
    bad = write(tmp_path / "bad.yaml", manifest("production", "name: a", "name: a"))
    before = cli_state(cli)
    for command in (("plan", "--detailed-exitcode"), ("apply", "--auto-approve")):
        result = cli(command[0], str(bad), *command[1:])
        assert result.returncode == 1
        assert f"{bad}:9:14: error: model 'a' is listed twice, at lines 8 and 9" in result.stderr
        assert "error: 1 error(s) in the manifests (listed above)" in result.stderr
        assert result.stdout == ""
    assert cli_state(cli) == before


def test_a_folder_with_several_environments_plans_each(cli):
    result = cli("plan", str(EXAMPLES), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [p["environment"] for p in data["plans"]] == ["development", "production", "staging"]
    assert [p["summary"]["create"] for p in data["plans"]] == [3, 3, 3]


# --- prune -----------------------------------------------------------------------------------


def test_prune_off_leaves_unlisted_entries(cli, seeded, tmp_path):
    kept = write(
        tmp_path / "p.yaml",
        manifest(
            "production", "name: llama-2-7b", "name: gpt-neo", "name: mistral-7b, enabled: false"
        ),
    )
    result = cli("plan", str(kept), "--detailed-exitcode")
    assert result.returncode == 0, result.stderr
    assert "    ? phi-2" in result.stdout
    applied(cli, kept)
    assert {e["model_name"]: e["status"] for e in listed(cli, "--environment", "production")}[
        "phi-2"
    ] == "ready"


def test_prune_on_deregisters_unlisted_entries(cli, seeded, tmp_path):
    pruned = write(
        tmp_path / "p.yaml",
        manifest(
            "production",
            "name: llama-2-7b",
            "name: gpt-neo",
            "name: mistral-7b, enabled: false",
            prune=True,
        ),
    )
    result = cli("plan", str(pruned))
    assert "  - phi-2 (deregister)\n" in result.stdout
    applied(cli, pruned)
    phi = next(e for e in listed(cli, "--environment", "production") if e["model_name"] == "phi-2")
    assert phi["status"] == "disabled" and phi["deregistered_at"]
    # deregistered rows are neither changed again nor reported as unmanaged
    again = cli("plan", str(pruned), "--detailed-exitcode")
    assert again.returncode == 0
    assert "?" not in again.stdout


# --- mass removal ----------------------------------------------------------------------------


def test_mass_removal_warns_in_plan_and_is_refused_by_apply(cli, seeded, tmp_path):
    gutted = write(tmp_path / "p.yaml", manifest("production", "name: llama-2-7b", prune=True))
    result = cli("plan", str(gutted))
    assert result.returncode == 0
    assert "!! MASS REMOVAL: this plan disables or deregisters 2 of the 3 ready entries" in (
        result.stdout
    )
    assert "MASS REMOVAL" in result.stderr
    before = cli_state(cli)
    refused = cli("apply", str(gutted), "--auto-approve")
    assert refused.returncode == 1
    assert "error: refusing to apply: the plan for production disables or deregisters most" in (
        refused.stderr
    )
    assert "--allow-mass-removal" in refused.stderr
    assert cli_state(cli) == before
    applied(cli, gutted, "--allow-mass-removal")
    assert sorted(
        e["model_name"] for e in listed(cli, "--environment", "production") if e["deregistered_at"]
    ) == [
        "gpt-neo",
        "mistral-7b",
        "phi-2",
    ]


def test_a_saved_mass_removal_plan_is_refused_too(cli, seeded, tmp_path):
    gutted = write(tmp_path / "p.yaml", manifest("production", "name: llama-2-7b", prune=True))
    saved = tmp_path / "plan.json"
    assert cli("plan", str(gutted), "--out", str(saved)).returncode == 0
    before = cli_state(cli)
    assert cli("apply", str(saved)).returncode == 1
    assert cli_state(cli) == before
    assert cli("apply", str(saved), "--allow-mass-removal").returncode == 0


# --- apply -----------------------------------------------------------------------------------


def test_apply_refuses_to_prompt_without_a_terminal(cli, change_set):
    before = cli_state(cli)
    result = cli("apply", str(change_set), input="yes\n")
    assert result.returncode == 1
    assert "error: refusing to ask for confirmation: stdin is not a terminal" in result.stderr
    assert "--auto-approve" in result.stderr
    assert cli_state(cli) == before


def test_apply_examples(cli):
    result = cli("apply", str(EXAMPLES), "--auto-approve", "--actor", "ci")
    assert result.returncode == 0, result.stderr
    for environment in ("development", "production", "staging"):
        assert f'Applied to environment "{environment}", now at revision 1.' in result.stderr
    staging = {
        e["model_name"]: (e["status"], e["namespace"])
        for e in listed(cli, "--environment", "staging")
    }
    assert staging == {
        "llama-2-7b": ("ready", "system"),
        "gpt-neo": ("ready", "system"),
        "mistral-7b": ("disabled", "inference"),
    }
    again = cli("apply", str(EXAMPLES), "--auto-approve")
    assert again.returncode == 0
    assert "No changes to apply." in again.stderr


def test_saved_plan_is_applied_exactly(cli, change_set, tmp_path):
    saved = tmp_path / "plan.json"
    result = cli("plan", str(change_set), "--out", str(saved))
    assert result.returncode == 0, result.stderr
    assert f"Saved the plan to {saved}" in result.stderr
    # the manifest changing after the plan was saved does not change what is applied
    write(change_set, manifest("production", "name: llama-2-7b"))
    result = cli("apply", str(saved))
    assert result.returncode == 0, result.stderr
    assert 'Applied to environment "production", now at revision 3.' in result.stderr
    status = {
        e["model_name"]: (e["status"], e["namespace"])
        for e in listed(cli, "--environment", "production")
    }
    assert status == {
        "llama-2-7b": ("ready", "system"),
        "gpt-neo": ("ready", "inference"),
        "mistral-7b": ("ready", "system"),
        "phi-2": ("disabled", "system"),
        "falcon-7b": ("ready", "system"),
        "qwen-7b": ("ready", "system"),
    }


def test_stale_saved_plan_is_refused(cli, change_set, tmp_path):
    saved = tmp_path / "plan.json"
    assert cli("plan", str(change_set), "--out", str(saved)).returncode == 0
    # someone changes the environment after the plan was made
    assert (
        cli("disable", "--model-name", "llama-2-7b", "--environment", "production").returncode == 0
    )
    before = cli_state(cli)
    result = cli("apply", str(saved))
    assert result.returncode == 1
    assert (
        "error: saved plan is stale: environment 'production' is at revision 3, the plan was "
        "made at revision 2. Nothing was written; run plan again"
    ) in result.stderr
    assert cli_state(cli) == before


def test_altered_saved_plan_is_refused(cli, change_set, tmp_path):
    saved = tmp_path / "plan.json"
    assert cli("plan", str(change_set), "--out", str(saved)).returncode == 0
    data = json.loads(saved.read_text())
    data["changes"][0]["after"]["endpoint"] = "evil.default.svc.cluster.local:80"
    saved.write_text(json.dumps(data))
    before = cli_state(cli)
    result = cli("apply", str(saved))
    assert result.returncode == 1
    assert "was altered after it was written (checksum mismatch)" in result.stderr
    assert cli_state(cli) == before


def test_a_file_that_is_not_a_saved_plan_is_refused(cli, change_set, tmp_path):
    before = cli_state(cli)
    printed = tmp_path / "printed.json"
    printed.write_text(cli("plan", str(change_set), "--format", "json").stdout)
    result = cli("apply", str(printed))
    assert result.returncode == 1
    assert "has no checksum: only a plan saved with `registry plan --out FILE`" in result.stderr
    other = write(tmp_path / "other.json", '{"hello": "world"}')
    result = cli("apply", str(other))
    assert result.returncode == 1
    assert f"error: {other} is not a saved plan" in result.stderr
    assert cli_state(cli) == before


# --- export ----------------------------------------------------------------------------------


def test_export_validates_and_plans_no_changes(cli, seeded, tmp_path):
    # a mix of manifest and hand-registered entries, one off-convention, one deregistered
    for args in (
        ("register", "--model-name", "falcon-7b", "--namespace", "inference"),
        (
            "register",
            "--model-name",
            "yi-6b",
            "--endpoint",
            "yi-canary.system.svc.cluster.local:9000",
        ),
        ("deregister", "--model-name", "gpt-neo"),
    ):
        assert cli(*args, "--environment", "production").returncode == 0
    exported = tmp_path / "exported.yaml"
    result = cli("export", "--environment", "production", "--out", str(exported))
    assert result.returncode == 0, result.stderr
    text = exported.read_text()
    assert "gpt-neo" not in text
    assert "endpoint: yi-canary.system.svc.cluster.local:9000" in text
    validate = cli("validate", str(exported))
    assert validate.returncode == 0, validate.stdout
    plan = cli("plan", str(exported), "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout
    assert "No changes." in plan.stdout
    # stdout gives the same manifest
    assert cli("export", "--environment", "production").stdout == text.rstrip("\n") + "\n"


def confirm(database_url: str, path: Path, answer: bytes) -> tuple[int, str]:
    """`registry apply PATH` on a terminal, ``answer`` typed at the confirmation prompt."""
    code, shown = on_terminal(
        "apply",
        str(path),
        env={"DATABASE_URL": database_url},
        answer=answer,
        prompt=b'Only "yes" is accepted',
    )
    return code, shown.decode()


def test_apply_asks_for_confirmation_on_a_terminal(cli, database_url, change_set):
    before = cli_state(cli)
    code, output = confirm(database_url, change_set, b"no\n")
    assert code == 1
    assert "Apply cancelled: nothing was written." in output
    assert cli_state(cli) == before
    code, output = confirm(database_url, change_set, b"yes\n")
    assert code == 0, output
    assert 'Applied to environment "production", now at revision 3.' in output
    assert {e["model_name"] for e in listed(cli, "--environment", "production")} >= {"qwen-7b"}


# --- the report files CI hands to GitLab -----------------------------------------------------

INVALID = (
    "apiVersion: registry.vllm.ai/v1\n"
    "kind: ModelRegistry\n"
    "metadata:\n  environment: staging\n"
    "spec:\n  models:\n    - name: llama-2-7b\n      enabeld: true\n"
)


def test_validate_writes_junit_and_codequality_for_invalid_manifests(tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    write(folder / "staging.yaml", INVALID)
    write(folder / "production.yaml", manifest("production", "name: gpt-neo"))
    junit, codequality = tmp_path / "junit.xml", tmp_path / "cq.json"
    result = run_cli(
        "validate", str(folder), "--junit", str(junit), "--codequality", str(codequality)
    )
    assert result.returncode == 1
    cases = {c.get("name"): c for c in ElementTree.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {str(folder / "staging.yaml"), str(folder / "production.yaml")}
    assert cases[str(folder / "staging.yaml")].find("failure") is not None
    assert cases[str(folder / "production.yaml")].find("failure") is None
    [issue] = json.loads(codequality.read_text())
    assert issue["location"] == {"path": str(folder / "staging.yaml"), "lines": {"begin": 8}}
    assert "enabeld" in issue["description"] and "did you mean 'enabled'" in issue["description"]
    assert issue["severity"] == "major"


def test_validate_reports_on_valid_examples(tmp_path):
    junit, codequality = tmp_path / "junit.xml", tmp_path / "cq.json"
    result = run_cli(
        "validate", str(EXAMPLES), "--junit", str(junit), "--codequality", str(codequality)
    )
    assert result.returncode == 0, result.stderr
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 3
    assert all(i["severity"] != "major" for i in json.loads(codequality.read_text()))


def test_plan_writes_codequality_even_when_it_fails(cli, tmp_path):
    codequality = tmp_path / "cq.json"
    path = write(tmp_path / "staging.yaml", INVALID)
    result = cli("plan", str(path), "--codequality", str(codequality))
    assert result.returncode == 1
    assert len(json.loads(codequality.read_text())) == 1


def test_plan_gitlab_report_and_show(cli, tmp_path):
    first = write(tmp_path / "p.yaml", manifest("production", "name: a", "name: b", "name: c"))
    assert cli("apply", str(first), "--auto-approve").returncode == 0
    second = write(
        tmp_path / "p.yaml",
        manifest(
            "production",
            "name: a, enabled: false",
            "name: c, namespace: inference",
            "name: d",
            prune=True,
        ),
    )
    report, saved = tmp_path / "tfplan.json", tmp_path / "plan.json"
    result = cli("plan", str(second), "--gitlab-report", str(report), "--out", str(saved))
    assert result.returncode == 0, result.stderr
    assert json.loads(report.read_text()) == {"create": 1, "update": 2, "delete": 1}
    markdown = cli("show", str(saved), "--format", "markdown")
    assert markdown.returncode == 0 and "| `d` |" in markdown.stdout
    text = cli("show", str(saved))
    assert text.stdout == result.stdout  # the same plan, not a new one


def test_show_refuses_a_file_that_is_not_a_plan(cli, tmp_path):
    bogus = write(tmp_path / "plan.json", '{"hello": 1}')
    result = cli("show", str(bogus))
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr
