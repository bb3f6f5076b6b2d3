"""YAML turned into data within safety limits: unsafe or insane input is a located finding."""

from __future__ import annotations

from reconciler.manifest import MAX_FILE_BYTES, load_text
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import findings
from tests.helpers import only_finding as only


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
    assert findings(VALID + "1: x\n")[0] == (
        19,
        1,
        "error",
        "key '1' is not a string: quote it",
    )


def test_merge_keys_are_refused():
    text = VALID.replace("      enabled: true\n", "      <<: {enabled: true}\n")
    assert only(text) == (
        13,
        7,
        "error",
        "merge keys (<<) not supported here: write the keys out",
    )
