"""Findings and their severity: the one vocabulary the manifest and the GitLab reports use."""

from __future__ import annotations

from reconciler.manifest import Finding, LoadResult, Severity
from reconciler.manifest.findings import Findings, bounded, has_errors, in_file_order
from reconciler.reports import CODEQUALITY_SEVERITY


def test_severity_values_are_the_words_users_read():
    assert [s.value for s in Severity] == ["error", "warning"]
    assert Severity.ERROR == "error" and Severity.WARNING == "warning"


def test_a_finding_reads_file_line_column_severity_message():
    finding = Finding("m.yaml", 3, 7, "bad", Severity.WARNING, "endpoint")
    assert str(finding) == "m.yaml:3:7: warning: bad"
    assert str(Finding("m.yaml", 1, 1, "bad")) == "m.yaml:1:1: error: bad"  # error by default


def test_a_finding_escapes_control_characters():
    assert str(Finding("a\x1b[31m.yaml", 1, 1, "x\ny")) == "a\\x1b[31m.yaml:1:1: error: x\\ny"


def test_every_severity_has_a_code_quality_severity():
    assert CODEQUALITY_SEVERITY == {Severity.ERROR: "major", Severity.WARNING: "minor"}


def test_findings_place_a_line_past_the_end_on_the_last_line():
    findings = Findings("m.yaml", lines=4)
    findings.add((9, 5), "past the end", "yaml")
    findings.add((4, 5), "on the last line", "yaml", Severity.WARNING)
    assert [(f.line, f.column, f.severity) for f in findings.found] == [
        (4, 1, Severity.ERROR),
        (4, 5, Severity.WARNING),
    ]


def test_errors_warnings_and_order():
    warning = Finding("b.yaml", 1, 1, "w", Severity.WARNING)
    late, early = Finding("a.yaml", 5, 1, "e"), Finding("a.yaml", 2, 9, "e")
    assert not has_errors([warning]) and has_errors([warning, late])
    assert in_file_order([warning, late, early]) == (early, late, warning)
    result = LoadResult((), (early, warning), ())
    assert (result.errors, result.warnings, result.ok) == ((early,), (warning,), False)


def test_bounded_cuts_the_value_a_message_quotes():
    value = "x" * 1000
    message = bounded(f"{value!r} is wrong", value)
    assert message.endswith("…' is wrong") and len(message) < 200


def test_finding_format():
    finding = Finding("m.yaml", 3, 5, "something is wrong")
    assert str(finding) == "m.yaml:3:5: error: something is wrong"
