"""A finding as a command prints it."""

from __future__ import annotations

from reconciler.manifest import Finding


def test_finding_format():
    finding = Finding("m.yaml", 3, 5, "something is wrong")
    assert str(finding) == "m.yaml:3:5: error: something is wrong"
