"""views: one View per kind of result, the formats it offers, and how each is written."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reconciler import render, views
from reconciler.plan import Plan, change_for
from reconciler.views import Format, Table, View
from tests.helpers import stored

ESC = "\x1b"


def plan() -> Plan:
    return Plan(
        "production",
        3,
        (
            change_for(None, stored("a")),
            change_for(stored("b"), stored("b", namespace="inference")),
            change_for(stored("c"), stored("c", status="disabled")),
        ),
    )


def test_each_view_offers_the_formats_it_can_write():
    assert views.PLANS.formats == (Format.text, Format.json, Format.markdown)
    assert views.ENTRIES.formats == (Format.table, Format.json, Format.csv)
    assert views.HISTORY.formats == (Format.table, Format.json, Format.csv)
    assert views.WRITTEN.formats == (Format.table, Format.json, Format.csv)
    assert views.VALIDATION.formats == (Format.text, Format.json)
    for view in (views.RESOLVED, views.EXPORTED, views.MESSAGE, views.VERSION, views.APPLIED):
        assert view.formats == (Format.text, Format.json)
    # json wherever a result is printed
    every = [value for value in vars(views).values() if isinstance(value, View)]
    assert len(every) >= 13
    assert all(Format.json in view.formats for view in every)


def test_a_format_a_view_does_not_offer_is_a_bug_not_a_silent_default():
    with pytest.raises(ValueError, match="no markdown view"):
        views.ENTRIES.render([stored("a")], Format.markdown)


def test_table_and_csv_can_drop_their_headers():
    entries = [stored("a", id=1), stored("b", id=2)]
    table = views.ENTRIES.render(entries, Format.table)
    assert table.splitlines()[0] == "Found 2 model deployment(s)"
    assert table.splitlines()[2].split() == ["ID", "Model", "Name", "Endpoint", "Status"] + [
        "Environment",
        "Namespace",
        "Last",
        "Health",
        "Updated",
    ]
    bare = views.ENTRIES.render(entries, Format.table, headers=False)
    assert [line.split()[:2] for line in bare.splitlines()] == [["1", "a"], ["2", "b"]]

    rows = list(csv.reader(io.StringIO(views.ENTRIES.render(entries, Format.csv))))
    assert rows[0] == list(render.ENTRY_FIELDS)
    bare_rows = list(
        csv.reader(io.StringIO(views.ENTRIES.render(entries, Format.csv, headers=False)))
    )
    assert bare_rows == rows[1:]


def test_an_empty_table_says_so():
    assert views.ENTRIES.render([], Format.table) == "Found 0 model deployment(s)"
    assert views.HISTORY.render([], Format.table) == "No history."
    assert Table(("A",), [], empty="none").text(headers=False) == ""


def test_json_is_data_that_parses():
    document = json.loads(views.PLANS.render([plan()], Format.json))
    assert document["summary"]["create"] == 1
    assert json.loads(views.ENTRIES.render([stored("a")], Format.json))[0]["model_name"] == "a"


def test_the_plan_summary_is_written_in_one_place():
    counts = render.plan_summary(plan())
    assert counts == (
        "1 to create, 1 to update, 0 to enable, 1 to disable, 0 to deregister; 0 unchanged."
    )
    assert f"Plan: {counts}" in views.PLANS.render([plan()], Format.text)
    bold = render.plan_summary(plan(), lambda n: f"**{n}**")
    assert bold in views.PLANS.render([plan()], Format.markdown)
    assert bold.replace("**", "") == counts


def test_paint_colours_only_the_change_marks():
    text = views.PLANS.render([plan()], Format.text)
    painted = views.paint_changes(text)
    assert "\x1b[32m+\x1b[0m a" in painted
    assert "\x1b[33m~\x1b[0m b" in painted
    assert "\x1b[33m~\x1b[0m c (disable)" in painted
    # nothing else changed: without the codes it is the same text
    assert painted.replace("\x1b[32m", "").replace("\x1b[33m", "").replace("\x1b[0m", "") == text
    assert ESC not in text


def test_only_text_and_table_are_painted():
    assert views.PLANS.colored(Format.text) is views.paint_changes
    assert views.PLANS.colored(Format.json) is None
    assert views.PLANS.colored(Format.markdown) is None
    assert views.ENTRIES.colored(Format.table) is None  # a view without paint


def test_message_prefixes_are_painted():
    assert views.paint_message("error: x") == "\x1b[1;31merror:\x1b[0m x"
    assert views.paint_message("warning: x") == "\x1b[1;33mwarning:\x1b[0m x"
    assert views.paint_message("registry: error: x") == "registry: error: x"
