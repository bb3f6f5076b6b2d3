"""Saved plan files: written with a checksum, read back exactly, refused when altered."""

from __future__ import annotations

import json

import pytest

from reconciler.diff import plan_environment
from reconciler.saved_plan import dumps, read, write
from registry.entry import Entry
from registry.errors import InvalidPlanFile


def plans():
    desired = [
        Entry("llama-2-7b", env, "system", f"llama-2-7b-{env}.system.svc.cluster.local:8000")
        for env in ("staging", "production")
    ]
    return [
        plan_environment([d], [], environment=d.environment, revision=4, prune=False)
        for d in desired
    ]


@pytest.mark.parametrize("count", [1, 2])
def test_round_trip(tmp_path, count):
    written = plans()[:count]
    path = tmp_path / "plan.json"
    write(path, written, key=None)
    assert read(path, key=None) == written
    data = json.loads(path.read_text())
    assert data["checksum"].startswith("sha256:")
    assert ("plans" in data) == (count > 1)


def test_altered_plan_is_refused(tmp_path):
    path = tmp_path / "plan.json"
    data = json.loads(dumps(plans()[:1], key=None))
    data["revision"] = 9
    path.write_text(json.dumps(data))
    with pytest.raises(
        InvalidPlanFile, match=r"altered after it was written \(checksum mismatch\)"
    ):
        read(path, key=None)


def test_other_format_version_is_refused(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": "0", "environment": "x"}))
    with pytest.raises(InvalidPlanFile, match="has plan format version '0'"):
        read(path, key=None)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"environment": "production"}'])
def test_not_a_plan(tmp_path, text):
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(InvalidPlanFile, match="is not a saved plan"):
        read(path, key=None)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidPlanFile, match="cannot read the saved plan .*No such file"):
        read(tmp_path / "nope.json", key=None)
