"""YAML nodes to data: the safety limits, each refused with a located finding."""

from __future__ import annotations

import pytest

from reconciler.manifest import Finding, Severity
from reconciler.manifest.findings import Findings
from reconciler.manifest.nodes import (
    MAX_ALIAS_EXPANSION,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    decode,
    line_count,
    read,
)


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
