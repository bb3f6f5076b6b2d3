"""Manifest loading and validation: every rule, with the exact line and column it reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import (
    MAX_FILE_BYTES,
    Finding,
    Manifest,
    ModelSpec,
    load_paths,
    load_text,
)
from registry.entry import Entry
from tests.helpers import write

VALID = """\
apiVersion: registry.vllm.ai/v1
kind: ModelRegistry
metadata:
  environment: production
spec:
  namespace: system
  port: 8000
  prune: false
  kube:
    context: prod-cluster
  models:
    - name: llama-2-7b
      enabled: true
    - name: mistral-7b
      namespace: inference
      enabled: false
    - name: gpt-neo
      endpoint: gpt-neo-production.system.svc.cluster.local:8000
"""

HEAD = """\
apiVersion: registry.vllm.ai/v1
kind: ModelRegistry
metadata:
  environment: production
spec:
  models:
"""  # models start on line 7


def findings(text: str | bytes) -> list[tuple[int, int, str, str]]:
    manifest, found = load_text(text, "m.yaml")
    if any(f.severity == "error" for f in found):
        assert manifest is None
    return [(f.line, f.column, f.severity, f.message) for f in found]


def only(text: str | bytes) -> tuple[int, int, str, str]:
    found = findings(text)
    assert len(found) == 1, found
    return found[0]


def test_valid_manifest_with_defaults_and_overrides():
    manifest, found = load_text(VALID, "prod.yaml")
    assert found == ()
    assert manifest == Manifest(
        environment="production",
        namespace="system",
        port=8000,
        prune=False,
        kube_context="prod-cluster",
        path="prod.yaml",
        models=(
            ModelSpec(
                "llama-2-7b",
                "system",
                "llama-2-7b-production.system.svc.cluster.local:8000",
                True,
                False,
                12,
                7,
            ),
            ModelSpec(
                "mistral-7b",
                "inference",
                "mistral-7b-production.inference.svc.cluster.local:8000",
                False,
                False,
                14,
                7,
            ),
            ModelSpec(
                "gpt-neo",
                "system",
                "gpt-neo-production.system.svc.cluster.local:8000",
                True,
                True,
                17,
                7,
            ),
        ),
    )


def test_desired_entries():
    manifest, _ = load_text(VALID)
    assert manifest.desired_entries() == [
        Entry(
            "llama-2-7b",
            "production",
            "system",
            "llama-2-7b-production.system.svc.cluster.local:8000",
            status="ready",
            managed_by="manifest",
        ),
        Entry(
            "mistral-7b",
            "production",
            "inference",
            "mistral-7b-production.inference.svc.cluster.local:8000",
            status="disabled",
            managed_by="manifest",
        ),
        Entry(
            "gpt-neo",
            "production",
            "system",
            "gpt-neo-production.system.svc.cluster.local:8000",
            status="ready",
            managed_by="manifest",
        ),
    ]


def test_spec_defaults():
    manifest, found = load_text(HEAD + "    - name: llama-2-7b\n")
    assert found == ()
    assert (manifest.namespace, manifest.port, manifest.prune, manifest.kube_context) == (
        "system",
        8000,
        False,
        None,
    )


def test_port_changes_the_conventional_endpoint():
    text = HEAD.replace("spec:\n", "spec:\n  port: 9000\n") + "    - name: gpt-neo\n"
    manifest, _ = load_text(text)
    assert manifest.models[0].endpoint == "gpt-neo-production.system.svc.cluster.local:9000"


def test_finding_format():
    finding = Finding("m.yaml", 3, 5, "something is wrong")
    assert str(finding) == "m.yaml:3:5: error: something is wrong"


# --- JSON Schema ---------------------------------------------------------------------------


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
    assert only(text) == (7, 9, "error", "spec.port: must be of type integer, got string '8000'")


def test_boolean_is_not_an_integer():
    text = VALID.replace("  port: 8000\n", "  port: true\n")
    assert only(text) == (7, 9, "error", "spec.port: must be of type integer, got boolean True")


def test_port_range():
    text = VALID.replace("  port: 8000\n", "  port: 70000\n")
    assert only(text) == (7, 9, "error", "spec.port: 70000 is greater than the maximum of 65535")


def test_wrong_api_version_and_kind():
    text = VALID.replace("registry.vllm.ai/v1", "registry.vllm.ai/v2").replace(
        "kind: ModelRegistry", "kind: Registry"
    )
    assert findings(text) == [
        (1, 13, "error", "apiVersion: must be 'registry.vllm.ai/v1', got 'registry.vllm.ai/v2'"),
        (2, 7, "error", "kind: must be 'ModelRegistry', got 'Registry'"),
    ]


def test_top_level_not_a_mapping():
    assert only("- a\n- b\n") == (1, 1, "error", "the document: must be of type object, got a list")


# --- names -----------------------------------------------------------------------------------


def test_model_name_must_be_a_dns_1035_label():
    line, column, severity, message = only(HEAD + "    - name: Llama_2\n")
    assert (line, column, severity) == (7, 13, "error")
    assert message.startswith("invalid model name 'Llama_2'")
    assert "DNS-1035" in message


def test_model_name_may_not_start_with_a_digit():
    assert only(HEAD + "    - name: 7b-llama\n")[:2] == (7, 13)


def test_service_name_must_fit_in_63_characters():
    name = "m" * 53  # + "-production" = 64
    line, column, _, message = only(HEAD + f"    - name: {name}\n")
    assert (line, column) == (7, 13)
    assert "has 64 characters, at most 63 allowed" in message
    assert findings(HEAD + f"    - name: {name[:-1]}\n") == []


def test_invalid_environment_and_namespace():
    text = VALID.replace("environment: production", "environment: Prod").replace(
        "      namespace: inference", "      namespace: Inference"
    )
    found = findings(text)
    assert [(line, column) for line, column, _, _ in found] == [(4, 16), (15, 18)]
    assert found[0][3].startswith("invalid environment 'Prod'")
    assert found[1][3].startswith("invalid namespace 'Inference'")


def test_duplicate_model_names_name_both_lines():
    text = VALID + "    - name: llama-2-7b\n"
    assert only(text) == (
        19,
        13,
        "error",
        "model 'llama-2-7b' is listed twice, at lines 12 and 19: list each model once",
    )


# --- endpoints -------------------------------------------------------------------------------


def test_endpoint_outside_the_cluster_is_an_error():
    text = VALID.replace(
        "gpt-neo-production.system.svc.cluster.local:8000", "gpt-neo.example.com:8000"
    )
    line, column, severity, message = only(text)
    assert (line, column, severity) == (18, 17, "error")
    assert message.startswith(
        "invalid endpoint 'gpt-neo.example.com:8000': an endpoint must be an in-cluster Service"
    )


@pytest.mark.parametrize(
    "endpoint", ["no-port.svc.cluster.local", "a.svc.cluster.local:0", "x:99999"]
)
def test_endpoint_needs_host_and_port(endpoint):
    text = VALID.replace("gpt-neo-production.system.svc.cluster.local:8000", endpoint)
    line, column, severity, message = only(text)
    assert (line, column, severity) == (18, 17, "error")
    assert "a port from 1 to 65535 in ASCII digits" in message


def test_endpoint_off_the_naming_convention_is_a_warning():
    text = VALID.replace(
        "gpt-neo-production.system.svc.cluster.local:8000",
        "gpt-neo-canary.system.svc.cluster.local:8000",
    )
    manifest, found = load_text(text, "m.yaml")
    assert [(f.line, f.column, f.severity, f.rule) for f in found] == [
        (18, 17, "warning", "endpoint-convention")
    ]
    assert found[0].message == (
        "endpoint gpt-neo-canary.system.svc.cluster.local:8000 differs from the naming "
        "convention (gpt-neo-production.system.svc.cluster.local:8000)"
    )
    assert manifest is not None  # warnings do not make a manifest invalid
    assert manifest.models[2].endpoint == "gpt-neo-canary.system.svc.cluster.local:8000"


# --- unsafe or insane YAML -------------------------------------------------------------------


def test_duplicate_yaml_keys():
    text = VALID.replace("      enabled: true\n", "      enabled: true\n      enabled: false\n")
    assert only(text) == (
        14,
        7,
        "error",
        "duplicate key 'enabled' (first at line 13): YAML would silently keep only one of them",
    )


def test_alias_bomb_is_refused():
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    line, column, severity, message = only("\n".join(lines) + "\n")
    assert (line, column, severity) == (1, 1, "error")
    assert "YAML aliases expand the document" in message
    assert "over the limit of 10000 added nodes" in message


def test_recursive_alias_is_refused():
    assert only("a: &x [*x]\n") == (
        1,
        1,
        "error",
        "a YAML alias refers to a node that contains it (a recursive alias)",
    )


def test_small_aliases_are_fine():
    text = VALID.replace("      namespace: inference", "      namespace: &ns inference")
    text += "    - name: phi-2\n      namespace: *ns\n"
    manifest, found = load_text(text)
    assert found == ()
    assert manifest.models[3].namespace == "inference"


def test_file_over_5_mib_is_refused():
    text = VALID + "#" * MAX_FILE_BYTES
    line, column, severity, message = only(text)
    assert (line, column, severity) == (1, 1, "error")
    assert "over the 5 MiB limit" in message


def test_non_utf8_input_points_at_the_bad_byte():
    data = VALID.encode().replace(b"llama-2-7b", b"llama-\xff-7b")
    assert only(data) == (12, 19, "error", "file is not valid UTF-8")


def test_multiple_documents_are_refused():
    assert only(VALID + "---\n" + VALID) == (
        19,
        1,
        "error",
        "more than one YAML document: keep one manifest per file",
    )


def test_empty_file():
    assert only("") == (1, 1, "error", "file is empty: expected a ModelRegistry manifest")
    assert only("# only a comment\n")[3] == "file is empty: expected a ModelRegistry manifest"


def test_yaml_syntax_error_has_a_location():
    line, column, severity, message = only(VALID.replace("  port: 8000", "  port: [8000"))
    assert severity == "error"
    assert message.startswith("invalid YAML:")
    assert line >= 7


def test_control_characters_are_reported():
    line, column, _, message = only(VALID.replace("llama-2-7b", "llama\x07"))
    assert (line, column) == (12, 18)
    assert "control characters are not allowed" in message


def test_unsafe_tags_are_refused():
    text = VALID.replace("  prune: false", "  prune: !!python/object:os.system false")
    assert only(text) == (
        8,
        10,
        "error",
        "YAML tag !!python/object:os.system not supported here: write a plain value",
    )


def test_timestamps_are_not_strings():
    text = VALID.replace("context: prod-cluster", "context: 2024-01-01")
    assert only(text) == (
        10,
        14,
        "error",
        "YAML tag !!timestamp not supported here: write a plain value",
    )


def test_non_string_keys():
    assert findings(VALID + "1: x\n")[0] == (19, 1, "error", "key '1' is not a string: quote it")


def test_merge_keys_are_refused():
    text = VALID.replace("      enabled: true\n", "      <<: {enabled: true}\n")
    assert only(text) == (
        13,
        7,
        "error",
        "merge keys (<<) not supported here: write the keys out",
    )


# --- folders and several files ---------------------------------------------------------------


def test_folder_loads_every_manifest_sorted(tmp_path):
    write(tmp_path / "b.yml", VALID.replace("production", "staging"))
    write(tmp_path / "a.yaml", VALID)
    write(tmp_path / "notes.txt", "not a manifest")
    result = load_paths([tmp_path])
    assert result.ok and len(result.files) == 2
    assert [m.environment for m in result.manifests] == ["production", "staging"]


def test_two_files_for_one_environment_are_refused(tmp_path):
    write(tmp_path / "a.yaml", VALID)
    write(tmp_path / "b.yaml", VALID)
    result = load_paths([tmp_path])
    assert not result.ok and result.manifests == ()
    assert [str(f) for f in result.findings] == [
        f"{tmp_path / 'b.yaml'}:4:16: error: environment 'production' is already declared in "
        f"{tmp_path / 'a.yaml'}:4: keep one manifest per environment"
    ]


def test_all_findings_of_all_files_in_one_run(tmp_path):
    write(tmp_path / "a.yaml", VALID.replace("  port: 8000", "  prot: 8000"))
    write(tmp_path / "b.yaml", VALID.replace("production", "staging") + "    - name: BAD\n")
    write(tmp_path / "c.yaml", b"\xfe")
    result = load_paths([tmp_path, tmp_path / "missing.yaml"])
    assert [(Path(f.path).name, f.line, f.column) for f in result.findings] == [
        ("a.yaml", 7, 3),
        ("b.yaml", 19, 13),
        ("c.yaml", 1, 1),
        ("missing.yaml", 1, 1),
    ]
    assert result.findings[-1].message == "no such file or folder"


def test_empty_folder(tmp_path):
    result = load_paths([tmp_path])
    assert [f.message for f in result.errors] == ["folder holds no manifest (*.yaml, *.yml)"]


def test_other_kubernetes_yaml_in_a_folder_is_skipped(tmp_path):
    write(tmp_path / "production.yaml", VALID)
    rbac = write(
        tmp_path / "rbac.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n---\nkind: RoleBinding\n",
    )
    result = load_paths([tmp_path])
    assert result.ok and len(result.manifests) == 1
    assert [str(f) for f in result.findings] == [
        f"{rbac}:1:1: warning: not a ModelRegistry manifest (kind Role): skipped"
    ]
    named = load_paths([rbac])  # named explicitly, it has to be a manifest
    assert not named.ok
