"""The report files CI hands to GitLab, written by the real commands."""

import json
from xml.etree import ElementTree

from tests.helpers import EXAMPLES, manifest, run_cli, write

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
