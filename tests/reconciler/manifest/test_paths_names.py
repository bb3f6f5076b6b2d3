"""A manifest file or folder name that is not UTF-8 is a finding, never loaded.

os.fsdecode makes lone surrogates (\\udcff) of such bytes, which no output format
can carry: strict JSON decoders refuse them, others turn them into U+FFFD.
"""

from __future__ import annotations

import json
import os

from reconciler.manifest import load_paths
from tests.helpers import ROOT

MANIFEST = (ROOT / "examples" / "development.yaml").read_bytes()


def folder_with_bad_name(tmp_path) -> str:
    folder = tmp_path / "manifests"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"dev\xff.yaml"), "wb") as file:
        file.write(MANIFEST)
    return str(folder)


def test_a_non_utf8_file_name_is_an_error_finding_and_not_loaded(tmp_path):
    folder = folder_with_bad_name(tmp_path)
    result = load_paths([folder])
    assert not result.ok and result.manifests == () and result.files == ()
    assert [(f.path, f.rule, f.message) for f in result.errors] == [
        (folder, "file", "folder holds no manifest (*.yaml, *.yml)"),
        (
            f"{folder}/dev\\udcff.yaml",
            "file",
            "the name 'dev\\udcff.yaml' is not valid UTF-8: rename it",
        ),
    ]


def test_a_non_utf8_folder_given_by_name_is_an_error_finding(tmp_path):
    folder = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"m\xe9"))
    os.mkdir(folder)
    result = load_paths([folder])
    assert [f.message for f in result.errors] == [
        "the name 'm\\udce9' is not valid UTF-8: rename it"
    ]


def test_validate_json_holds_no_lone_surrogate_for_a_non_utf8_file_name(registry, tmp_path):
    code, out, err = registry("validate", folder_with_bad_name(tmp_path), "-o", "json")
    assert code == 1, err
    result = json.loads(out)
    assert result["valid"] is False
    out.encode("utf-8")  # UnicodeEncodeError: a lone surrogate
    assert "not valid UTF-8" in out
