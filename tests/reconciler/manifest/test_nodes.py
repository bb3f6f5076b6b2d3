"""YAML nodes to data: the safety limits, each refused with a located finding."""

from __future__ import annotations

import pytest

from reconciler.manifest import Finding, Severity, load_text
from reconciler.manifest.findings import Findings
from reconciler.manifest.nodes import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    decode,
    line_count,
    read,
)
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import findings
from tests.helpers import only_finding as only


def parsed(text: str, *, skip_foreign: bool = False):
    findings = Findings("m.yaml", line_count(text))
    document = read(text, findings, skip_foreign=skip_foreign)
    return document, [(f.line, f.column, f.rule, f.message) for f in findings.found]


def test_decode_refuses_a_file_over_the_size_limit():
    assert decode(b" " * MAX_FILE_BYTES, "m.yaml") == " " * MAX_FILE_BYTES
    refused = decode(b" " * (MAX_FILE_BYTES + 1), "m.yaml")
    assert refused == Finding(
        "m.yaml", 1, 1, f"file is {MAX_FILE_BYTES + 1} bytes, over the 5 MiB limit", rule="yaml"
    )


def test_decode_places_invalid_utf8_and_drops_a_bom():
    assert decode("\ufeffa: 1".encode(), "m.yaml") == "a: 1"
    refused = decode(b"a: 1\nbb: \xff\n", "m.yaml")
    assert (refused.line, refused.column, refused.message) == (2, 5, "file is not valid UTF-8")


def test_data_keeps_where_each_value_is_written():
    document, found = parsed("a:\n  b: [1, 2]\n  c: x\n")
    assert found == []
    assert document.data == {"a": {"b": [1, 2], "c": "x"}}
    assert document.location(("a", "b", 1)) == (2, 10)
    assert document.key_marks[("a", "c")] == (3, 3)
    assert document.location(("a", "missing", 3)) == (2, 3)  # the closest enclosing node
    assert document.get("a", "c") == "x" and document.get("a", "c", "d") is None


def test_nesting_deeper_than_the_limit_is_refused():
    def nested(depth: int) -> str:  # the innermost value is ``depth`` indexes deep
        return "[" * (depth + 1) + "]" * (depth + 1)

    assert parsed(nested(MAX_DEPTH))[1] == []
    document, found = parsed(nested(MAX_DEPTH + 1))
    assert document is None
    assert found == [(1, 1, "yaml-depth", f"the document nests deeper than {MAX_DEPTH} levels")]


def test_aliases_may_add_up_to_the_limit_and_no_more():
    def aliased(count: int) -> str:  # an anchored list of count - 1 items: count nodes
        return f"a: &x [{', '.join(['1'] * (count - 1))}]\nb: *x\n"

    assert parsed(aliased(MAX_ALIAS_EXPANSION))[1] == []
    document, found = parsed(aliased(MAX_ALIAS_EXPANSION + 1))
    assert document is None
    assert [(line, rule) for line, _, rule, _ in found] == [(1, "yaml-alias")]
    assert f"over the limit of {MAX_ALIAS_EXPANSION} added nodes" in found[0][3]


@pytest.mark.parametrize("written", ["0x1f", "0b101", "010", "1_000", "1:20", "8000.0", "+80"])
def test_integers_are_plain_decimals(written):
    document, found = parsed(f"port: {written}\n")
    assert document.data == {"port": None}
    assert found == [
        (
            1,
            7,
            "yaml",
            f"{written!r} is not a plain integer: write whole numbers in decimal digits "
            "(for example 8000), without a decimal point, exponent, '_', ':', sign or "
            "leading zero",
        )
    ]


@pytest.mark.parametrize("written", ["8000", "0", "-3", "0.5", "1e-3"])
def test_plain_numbers_pass(written):
    assert parsed(f"port: {written}\n")[1] == []


def test_another_kind_is_skipped_with_a_warning_only_when_asked():
    findings = Findings("rbac.yaml", 2)
    assert read("kind: Role\nrules: []\n", findings, skip_foreign=True) is None
    assert [(f.severity, f.message) for f in findings.found] == [
        (Severity.WARNING, "not a ModelRegistry manifest (kind Role): skipped")
    ]
    document, found = parsed("kind: Role\nrules: []\n")
    assert document.data == {"kind": "Role", "rules": []} and found == []


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
