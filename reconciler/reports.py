"""GitLab CI reports: the merge request widgets read these files. Pure: values in, data out."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from xml.etree import ElementTree

from registry.vocabulary import Action

from .manifest import Finding, Severity
from .plan import Plan
from .safe_text import escape

# GitLab's Code Quality severities: info, minor, major, critical, blocker.
CODEQUALITY_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor"}


def terraform_report(plans: Iterable[Plan]) -> dict[str, int]:
    """GitLab's Terraform report: enable, disable and update count as update, deregister as
    delete."""
    report = {"create": 0, "update": 0, "delete": 0}
    for plan in plans:
        summary = plan.summary()
        report["create"] += summary[Action.CREATE]
        report["update"] += (
            summary[Action.UPDATE] + summary[Action.ENABLE] + summary[Action.DISABLE]
        )
        report["delete"] += summary[Action.DEREGISTER]
    return report


def codequality_report(findings: Sequence[Finding]) -> list[dict]:
    """GitLab Code Quality issues, one per finding.

    The fingerprint hashes the file, rule and message (not the line, so an
    issue keeps its identity when lines above it move) plus the occurrence
    number of that triple, which keeps identical findings distinct.
    """
    seen: Counter[tuple[str, str, str]] = Counter()
    issues = []
    for finding in findings:
        identity = (finding.path, finding.rule, finding.message)
        seen[identity] += 1
        fingerprint = hashlib.sha256(json.dumps([*identity, seen[identity]]).encode()).hexdigest()
        issues.append(
            {
                "type": "issue",
                "description": escape(finding.message),
                "check_name": finding.rule,
                "fingerprint": fingerprint,
                "severity": CODEQUALITY_SEVERITY.get(finding.severity, "info"),
                "location": {"path": escape(finding.path), "lines": {"begin": finding.line}},
            }
        )
    return issues


def junit_report(findings_by_file: Mapping[str, Sequence[Finding]]) -> str:
    """JUnit XML: one test case per manifest, failed when it has errors."""
    suite = ElementTree.Element("testsuite", name="registry validate")
    failures = 0
    for path, findings in findings_by_file.items():
        # Escaped: control characters are not even allowed in XML 1.0.
        case = ElementTree.SubElement(suite, "testcase", classname="manifest", name=escape(path))
        errors = [f for f in findings if f.severity == Severity.ERROR]
        if errors:
            failures += 1
            failure = ElementTree.SubElement(
                case, "failure", message=f"{len(errors)} error(s)", type="validation"
            )
            failure.text = "\n".join(str(f) for f in errors)
        warnings = [f for f in findings if f.severity != Severity.ERROR]
        if warnings:
            ElementTree.SubElement(case, "system-out").text = "\n".join(str(f) for f in warnings)
    suite.set("tests", str(len(findings_by_file)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True)
