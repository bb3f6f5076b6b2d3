"""The JSON Schema: the fast check and the located findings agree."""

from __future__ import annotations

from reconciler.manifest import conforms
from reconciler.manifest.findings import Findings
from reconciler.manifest.nodes import line_count, read
from reconciler.manifest.schema import check, validator

from ...helpers import manifest

VALID = {
    "apiVersion": "registry.vllm.ai/v1",
    "kind": "ModelRegistry",
    "metadata": {"environment": "production"},
    "spec": {"models": [{"name": "a"}]},
}


def test_the_fast_check_and_the_full_validator_agree():
    assert conforms(VALID) and not list(validator().iter_errors(VALID))
    wrong = {**VALID, "spec": {"models": [{"name": "a", "enabled": "yes"}]}}
    assert not conforms(wrong) and list(validator().iter_errors(wrong))


def schema_findings(text: str) -> list[tuple[int, int, str]]:
    findings = Findings("m.yaml", line_count(text))
    check(read(text, findings), findings)
    return [(f.line, f.column, f.message) for f in findings.found]


def test_an_unknown_key_suggests_the_close_one_at_the_key():
    assert schema_findings(manifest("production", "a", spec="  namspace: x")) == [
        (6, 3, "unknown key 'namspace' in spec (did you mean 'namespace'?)")
    ]


def test_a_wrong_type_is_said_where_the_value_is():
    assert schema_findings(manifest("production", "name: a, enabled: 'yes'")) == [
        (8, 26, "spec.models[0].enabled: must be of type boolean, got string 'yes'")
    ]
