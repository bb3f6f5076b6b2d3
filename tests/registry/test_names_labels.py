"""One DNS label rule: names, namespaces, environments and endpoints judge labels alike,
and alike with the database's CHECK constraints (migration 0002)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry import names
from registry.errors import InvalidEndpoint, InvalidName

MIGRATION = Path(names.__file__).parent / "migrations" / "0002_integrity.sql"
SUFFIX = ".svc.cluster.local"
LABELS = [
    "a", "a-b", "a--b", "llama-2-7b", "0", "0a", "7b-model", "a" * 63, "a" * 64, "-a", "a-",
    "A", "a_b", "a.b", "é", "a\n", "", "٨", "a b",
]  # fmt: skip


def database_rule(column: str) -> re.Pattern[str]:
    """The CHECK constraint's expression for ``column``, as a Python pattern."""
    text = MIGRATION.read_text()
    found = re.search(rf"CHECK \({column} ~ '\^(.*?)\$'\)", text) or re.search(
        rf"WHEN {column} ~ '\^(.*?)\$'", text
    )
    return re.compile(found[1], re.ASCII)


def accepts(check, value) -> bool:
    try:
        check(value)
    except (InvalidName, InvalidEndpoint):
        return False
    return True


@pytest.mark.parametrize("label", LABELS)
def test_namespaces_and_environments_are_the_database_s_labels(label):
    assert accepts(names.check_namespace, label) == bool(
        database_rule("namespace").fullmatch(label)
    )
    assert accepts(names.check_environment, label) == bool(
        database_rule("environment").fullmatch(label)
    )


@pytest.mark.parametrize("label", LABELS)
def test_a_model_name_is_a_label_that_starts_with_a_letter(label):
    in_database = bool(database_rule("model_name").fullmatch(label))
    assert accepts(lambda n: names.check_model_name(n, "e"), label) == (
        in_database and len(label) <= 61
    )  # and {name}-e fits in a label
    assert in_database == (accepts(names.check_namespace, label) and label[:1].isalpha())


@pytest.mark.parametrize("label", LABELS)
def test_each_label_of_an_endpoint_is_the_same_rule(label):
    for endpoint in (f"{label}.system{SUFFIX}:8000", f"svc.{label}{SUFFIX}:8000"):
        assert (
            accepts(names.parse_endpoint, endpoint)
            == bool(database_rule("endpoint").fullmatch(endpoint))
            == accepts(names.check_namespace, label)
        )


def test_a_long_model_name_is_told_it_is_too_long_not_invalid():
    with pytest.raises(InvalidName, match=r"is too long for environment 'production'"):
        names.check_model_name("m" * 70, "production")


def test_an_endpoint_longer_than_any_valid_one_is_refused():
    longest = f"{'a' * 63}.{'b' * 63}{SUFFIX}:65535"
    assert names.parse_endpoint(longest) == (longest[:-6], 65535)
    with pytest.raises(InvalidEndpoint, match="characters\\)"):
        names.parse_endpoint("a" * 4_000_000 + f".b{SUFFIX}:80")
