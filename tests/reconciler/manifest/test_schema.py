"""The JSON Schema: the fast check and the located findings agree."""

from __future__ import annotations

from reconciler.manifest import conforms
from reconciler.manifest.findings import Findings
from reconciler.manifest.nodes import line_count, read
from reconciler.manifest.schema import check, validator
from tests.helpers import MANIFEST_HEAD as HEAD
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import findings, manifest
from tests.helpers import only_finding as only

VALID_DATA = {
    "apiVersion": "registry.vllm.ai/v1",
    "kind": "ModelRegistry",
    "metadata": {"environment": "production"},
    "spec": {"models": [{"name": "a"}]},
}


def test_the_fast_check_and_the_full_validator_agree():
    assert conforms(VALID_DATA) and not list(validator().iter_errors(VALID_DATA))
    wrong = {**VALID_DATA, "spec": {"models": [{"name": "a", "enabled": "yes"}]}}
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


def test_unknown_key_with_did_you_mean():
    text = VALID.replace("  namespace: system\n", "  namespce: system\n")
    assert only(text) == (
        6,
        3,
        "error",
        "unknown key 'namespce' in spec (did you mean 'namespace'?)",
    )


def test_unknown_key_in_a_model():
    text = VALID.replace("      enabled: true\n", "      enabeld: true\n")
    assert only(text) == (
        13,
        7,
        "error",
        "unknown key 'enabeld' in spec.models[0] (did you mean 'enabled'?)",
    )


def test_unknown_key_without_a_close_match_lists_the_allowed_keys():
    text = VALID.replace("kind: ModelRegistry\n", "kind: ModelRegistry\nowner: me\n")
    assert only(text) == (
        3,
        1,
        "error",
        "unknown key 'owner' in the document; allowed: apiVersion, kind, metadata, spec",
    )


def test_missing_required_key():
    text = VALID.replace("  environment: production\n", "  {}\n").replace(
        "metadata:\n  {}", "metadata: {}"
    )
    line, column, severity, message = only(text)
    assert (line, column, severity) == (3, 1, "error")
    assert message == "metadata: 'environment' is a required property"


def test_model_without_name():
    text = HEAD + "    - enabled: true\n"
    assert only(text) == (7, 7, "error", "spec.models[0]: 'name' is a required property")


def test_wrong_type():
    text = VALID.replace("  port: 8000\n", '  port: "8000"\n')
    assert only(text) == (
        7,
        9,
        "error",
        "spec.port: must be of type integer, got string '8000'",
    )


def test_boolean_is_not_an_integer():
    text = VALID.replace("  port: 8000\n", "  port: true\n")
    assert only(text) == (
        7,
        9,
        "error",
        "spec.port: must be of type integer, got boolean True",
    )


def test_port_range():
    text = VALID.replace("  port: 8000\n", "  port: 70000\n")
    assert only(text) == (
        7,
        9,
        "error",
        "spec.port: 70000 is greater than the maximum of 65535",
    )


def test_wrong_api_version_and_kind():
    text = VALID.replace("registry.vllm.ai/v1", "registry.vllm.ai/v2").replace(
        "kind: ModelRegistry", "kind: Registry"
    )
    assert findings(text) == [
        (1, 13, "error", "apiVersion: must be 'registry.vllm.ai/v1', got 'registry.vllm.ai/v2'"),
        (2, 7, "error", "kind: must be 'ModelRegistry', got 'Registry'"),
    ]


def test_top_level_not_a_mapping():
    assert only("- a\n- b\n") == (
        1,
        1,
        "error",
        "the document: must be of type object, got a list",
    )
