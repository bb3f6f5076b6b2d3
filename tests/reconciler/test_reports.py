"""GitLab report files: terraform counts, Code Quality issues, JUnit XML."""

from xml.etree import ElementTree

from reconciler import operator, reports
from reconciler.manifest import Finding
from reconciler.plan import Plan, change_for
from tests.helpers import entry


def test_terraform_report_maps_actions_to_gitlab_counts():
    changes = [
        change_for(None, entry("a")),
        change_for(entry("b"), entry("b", status="disabled")),
        change_for(entry("c", status="disabled"), entry("c")),
        change_for(entry("d"), entry("d", namespace="inference")),
        change_for(entry("e"), entry("e", status="disabled", deregistered=True)),
    ]
    plans = [
        Plan("production", 3, tuple(changes), unchanged=7),
        operator.register(None, 0, model_name="x", environment="staging"),
    ]
    assert reports.terraform_report(plans) == {"create": 2, "update": 3, "delete": 1}


FINDINGS = [
    Finding("examples/production.yaml", 12, 7, "unknown key 'enabeld'", "error", "schema"),
    Finding("examples/production.yaml", 20, 7, "unknown key 'enabeld'", "error", "schema"),
    Finding("examples/staging.yaml", 4, 3, "endpoint differs", "warning", "endpoint-convention"),
]


def test_codequality_issues_have_gitlab_fields():
    issues = reports.codequality_report(FINDINGS)
    assert issues[0] == {
        "type": "issue",
        "description": "unknown key 'enabeld'",
        "check_name": "schema",
        "fingerprint": issues[0]["fingerprint"],
        "severity": "major",
        "location": {"path": "examples/production.yaml", "lines": {"begin": 12}},
    }
    assert issues[2]["severity"] == "minor"


def test_codequality_fingerprints_are_unique_and_stable():
    first = [i["fingerprint"] for i in reports.codequality_report(FINDINGS)]
    assert len(set(first)) == len(first)
    assert first == [i["fingerprint"] for i in reports.codequality_report(FINDINGS)]
    # Lines moving above a finding do not change its identity.
    moved = [Finding(f.path, f.line + 3, f.column, f.message, f.severity, f.rule) for f in FINDINGS]
    assert first == [i["fingerprint"] for i in reports.codequality_report(moved)]


def test_junit_has_one_case_per_manifest():
    xml = reports.junit_report(
        {
            "examples/production.yaml": FINDINGS[:2],
            "examples/staging.yaml": FINDINGS[2:],
            "ok.yaml": [],
        }
    )
    suite = ElementTree.fromstring(xml)
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"examples/production.yaml", "examples/staging.yaml", "ok.yaml"}
    failure = cases["examples/production.yaml"].find("failure")
    assert failure.get("message") == "2 error(s)"
    assert "examples/production.yaml:12:7" in failure.text
    assert cases["examples/staging.yaml"].find("failure") is None
    assert "endpoint differs" in cases["examples/staging.yaml"].find("system-out").text
