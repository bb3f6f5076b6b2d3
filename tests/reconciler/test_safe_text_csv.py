"""csv_cell for a spreadsheet that splits on another separator than the comma.

Most European locales list with ';': a value holding `;=cmd|...` would be a formula
cell there although the comma-separated reading is safe.
"""

from __future__ import annotations

import csv
import io

import pytest

from reconciler.safe_text import csv_cell

REGISTER = ["register", "-m", "llama-2-7b", "-e", "development"]
FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("raw", "cell"),
    [
        (f"bob;{FORMULA}", f"bob;'{FORMULA}"),
        ("a,-1", "a,'-1"),
        ('x;"=1', "x;\"'=1"),
        ("x; +1", "x; '+1"),
        ('x, " @SUM(A1)', "x, \" '@SUM(A1)"),
        ("x;=1;=2", "x;'=1;'=2"),
        ("a;b, c", "a;b, c"),
        ('{"a": 1, "b": "-"}', '{"a": 1, "b": "-"}'),
        ("a=b;c", "a=b;c"),
    ],
)
def test_csv_cell_neutralises_a_formula_after_a_separator(raw, cell):
    assert csv_cell(raw) == cell


def test_history_csv_has_no_formula_cell_for_a_semicolon_separated_spreadsheet(registry):
    code, _, err = registry(*REGISTER, env={"REGISTRY_ACTOR": f"bob;{FORMULA}"})
    assert code == 0, err
    code, out, err = registry("history", "-o", "csv")
    assert code == 0, err
    for delimiter in (",", ";"):
        cells = [c for row in csv.reader(io.StringIO(out), delimiter=delimiter) for c in row]
        starting = [c for c in cells if c[:1] in ("=", "+", "-", "@")]
        assert not starting, f"{delimiter!r}-separated: formula cells {starting}"


def test_history_csv_neutralises_a_formula_actor_from_the_environment(registry):
    code, _, err = registry(*REGISTER, env={"REGISTRY_ACTOR": FORMULA})
    assert code == 0, err
    code, out, _ = registry("history", "-o", "csv", "--no-headers")
    rows = list(csv.reader(io.StringIO(out)))
    assert [row[7] for row in rows] == ["'" + FORMULA]
