"""The renderers given hostile stored values: nothing reaches the reader unescaped.

Hostile endpoints and names are refused on input, but rows written before that
(or by hand) may hold anything; every output must show them, not obey them.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
from markdown_it import MarkdownIt

from reconciler import render, reports
from reconciler.manifest import Finding
from reconciler.plan import Plan, change_for
from reconciler.views import ENTRIES, HISTORY, Format
from registry.store import AuditRecord
from tests.helpers import stored

TERMINAL = "\x1b]0;TITLE\x07\x1b[2J"
FORMULA = "=cmd|' /C calc'!A0"
MARKDOWN = "x` [click](https://evil.example) ![i](https://evil.example/i.png) <img src=x> `"
BIDI = "safe\u202eexe.txt"
HOSTILE = (TERMINAL, FORMULA, MARKDOWN, BIDI, "evil\rroot", "two\nlines")
CONTROLS = ("\x1b", "\x07", "\r", "\u202e")


def hostile_plan(value: str) -> Plan:
    changes = (
        change_for(None, stored(value)),
        change_for(stored("a"), stored("a", endpoint=value)),
    )
    reasoned = change_for(stored("b"), stored("b", status="pending"))
    changes += (type(reasoned)(**{**vars(reasoned), "reason": value}),)
    return Plan(
        "production",
        3,
        changes,
        unmanaged=(value,),
        warnings=(f"endpoint {value} differs from the naming convention",),
        mass_removal=f"removes {value}",
    )


def assert_no_controls(text: str) -> None:
    for char in CONTROLS:
        assert char not in text, repr(text)


@pytest.mark.parametrize("value", HOSTILE)
def test_plan_text_escapes_every_value(value):
    text = render.plan_text(hostile_plan(value))
    assert_no_controls(text)
    assert len(text.splitlines()) == len(render.plan_text(hostile_plan("v")).splitlines())
    assert "\\x1b]0;TITLE\\x07\\x1b[2J" in render.plan_text(hostile_plan(TERMINAL))


@pytest.mark.parametrize("value", HOSTILE)
def test_plan_markdown_keeps_values_in_code_spans(value):
    markdown = render.plan_markdown([hostile_plan(value)])
    assert_no_controls(markdown)
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "<a " not in html and "<img" not in html, html
    rows = html.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 3  # a value cannot add or split table rows


def test_markdown_shows_the_hostile_endpoint_as_code():
    html = (
        MarkdownIt("commonmark")
        .enable("table")
        .render(render.plan_markdown([hostile_plan(MARKDOWN)]))
    )
    assert "<code>x` [click](https://evil.example)" in html


@pytest.mark.parametrize("value", HOSTILE)
def test_list_table_and_csv(value):
    entries = [stored("ok"), stored("b", endpoint=value, namespace=value)]
    table = ENTRIES.render(entries, Format.table)
    assert_no_controls(table)
    assert len(table.splitlines()) == 5
    rows = list(csv.DictReader(io.StringIO(ENTRIES.render(entries, Format.csv))))
    assert len(rows) == 2
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
            assert_no_controls(cell)


def test_csv_keeps_ordinary_values_as_they_are():
    [row] = csv.DictReader(io.StringIO(ENTRIES.render([stored("llama-2-7b")], Format.csv)))
    assert row["model_name"] == "llama-2-7b"
    assert row["endpoint"] == "llama-2-7b-production.system.svc.cluster.local:8000"
    [row] = csv.DictReader(io.StringIO(ENTRIES.render([stored("x", endpoint=FORMULA)], Format.csv)))
    assert row["endpoint"] == "'" + FORMULA


def record(value: str) -> AuditRecord:
    return AuditRecord(
        id=1,
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        environment="production",
        revision=1,
        plan_id="p",
        action="create",
        model_name=value,
        actor=value,
        commit_sha=value,
        pipeline_url=value,
        before=None,
        after={"endpoint": value},
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_history_table_and_csv(value):
    table = HISTORY.render([record(value), record("ok")], Format.table)
    assert_no_controls(table)
    assert len(table.splitlines()) == 3
    rows = list(csv.DictReader(io.StringIO(HISTORY.render([record(value)], Format.csv))))
    [row] = rows
    assert set(row) == set(render.HISTORY_FIELDS)
    for name in ("model_name", "actor", "commit_sha", "pipeline_url"):
        assert not row[name].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert_no_controls(row[name])
    assert json.loads(row["after"].removeprefix("'")) == {"endpoint": value}


def test_history_actor_cannot_pretend_to_be_root():
    table = HISTORY.render([record("mallory\rroot   ")], Format.table)
    assert "mallory\\rroot" in table


@pytest.mark.parametrize("value", HOSTILE)
def test_codequality_and_junit(value):
    findings = [Finding(f"m/{value}.yaml", 1, 1, f"invalid model name {value!s}")]
    [issue] = reports.codequality_report(findings)
    assert_no_controls(issue["description"])
    xml = reports.junit_report({findings[0].path: findings})
    assert_no_controls(xml)
    suite = ElementTree.fromstring(xml.encode())  # well-formed XML 1.0
    assert suite.get("failures") == "1"
