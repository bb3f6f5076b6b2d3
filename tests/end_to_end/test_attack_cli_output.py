"""Attacks on the CLI output of issue 15 (views, formats, streams, --debug).

Each test asserts the safe behaviour; the ones marked xfail(strict) are findings
that still break it (C<n> in the attack report). Run in-process (``registry``).
"""

from __future__ import annotations

import csv
import io
import json

import pytest

REGISTER = ["register", "-m", "llama-2-7b", "-e", "development"]
ESC = "\x1b"
SECRET = "s3cr3t-pw"


def strict_json(text: str):
    """RFC 8259 JSON: no NaN/Infinity (Python's json.loads accepts them, jq, Go, JS do not)."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def append_audit_row(url: str, after: str) -> None:
    """As a registry_writer member with plain SQL: one audit row that continues the chain
    (the keyless chain lets a writer do this; migration 0004's header says so)."""
    import psycopg

    with psycopg.connect(url) as writer:
        writer.execute(
            """
            INSERT INTO registry_audit_log (environment, revision, plan_id, action, model_name,
                                            actor, after, chain_hash)
            SELECT 'development', 99, 'p', 'update', 'llama-2-7b', 'mallory', %(after)s::jsonb,
                   registry_audit_chain_step(NULL,
                       (SELECT chain_hash FROM registry_audit_log
                        WHERE environment = 'development' ORDER BY id DESC LIMIT 1),
                       registry_audit_content(now(), 'development', 99, 'p', 'update',
                                              'llama-2-7b', 'mallory', NULL, NULL, NULL,
                                              %(after)s::jsonb))
            """,
            {"after": after},
        )


@pytest.mark.xfail(
    strict=True,
    reason="C1: one audit row with a jsonb number of over 4300 digits (a writer's plain "
    "INSERT; the log is append-only) makes every `history` an internal error for good",
)
@pytest.mark.parametrize("args", [("-o", "json"), ("-o", "csv"), ("-o", "table")])
def test_history_survives_a_huge_number_in_the_audit_log(registry, login, args):
    assert registry(*REGISTER).returncode == 0
    append_audit_row(login("registry_writer"), '{"replicas": 1e5000}')
    code, out, err = registry("history", *args)
    assert code == 0, err
    if args == ("-o", "json"):
        assert [r for r in strict_json(out) if r["actor"] == "mallory"]


def test_history_json_stays_json_with_a_number_beyond_float_range(registry, login):
    """The control: jsonb prints 1e400 as a 401-digit integer, which JSON keeps exact."""
    assert registry(*REGISTER).returncode == 0
    append_audit_row(login("registry_writer"), '{"replicas": 1e400}')
    code, out, err = registry("history", "-o", "json")
    assert code == 0, err
    assert [r for r in strict_json(out) if r["actor"] == "mallory"]


@pytest.fixture
def bug(monkeypatch):
    """An internal error whose message carries what a bug would: a stored value with an
    escape sequence, and the database URL with its password."""

    def broken(*args, **kwargs):
        raise RuntimeError(
            f"cannot use {ESC}]8;;http://evil/{ESC}\\click{ESC}]8;;{ESC}\\ "
            f"from postgresql://registry:{SECRET}@db:5432/registry"
        )

    monkeypatch.setattr("reconciler.operations.load", broken)


def test_the_internal_error_line_is_escaped_and_redacted(registry, bug):
    """The control: without --debug the one line is safe."""
    from tests.helpers import ROOT

    code, _, err = registry("validate", str(ROOT / "examples"))
    assert code == 1
    assert ESC not in err and SECRET not in err


@pytest.mark.xfail(
    strict=True,
    reason="C2: --debug prints the traceback raw: escape sequences and URL passwords pass",
)
def test_debug_traceback_is_escaped_and_redacted(registry, bug):
    from tests.helpers import ROOT

    code, _, err = registry("--debug", "validate", str(ROOT / "examples"))
    assert code == 1 and "Traceback (most recent call last):" in err
    assert ESC not in err, "an OSC 8 hyperlink reached the terminal"
    assert SECRET not in err, "the database password was printed"


FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.xfail(
    strict=True,
    reason="C3: a cell is neutralised only at its start: a spreadsheet splitting on ';' "
    "(the list separator of most European locales) still gets a formula cell",
)
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
    """The control: the comma-separated reading is safe."""
    code, _, err = registry(*REGISTER, env={"REGISTRY_ACTOR": FORMULA})
    assert code == 0, err
    code, out, _ = registry("history", "-o", "csv", "--no-headers")
    rows = list(csv.reader(io.StringIO(out)))
    assert [row[7] for row in rows] == ["'" + FORMULA]


@pytest.mark.xfail(
    strict=True,
    reason="C4: a manifest file name that is not UTF-8 reaches -o json as lone surrogates "
    "(\\udcff), which strict JSON decoders refuse and others turn into U+FFFD",
)
def test_validate_json_holds_no_lone_surrogate_for_a_non_utf8_file_name(registry, tmp_path):
    import os

    from tests.helpers import ROOT

    folder = tmp_path / "manifests"
    folder.mkdir()
    manifest = (ROOT / "examples" / "development.yaml").read_bytes()
    with open(os.path.join(os.fsencode(folder), b"dev\xff.yaml"), "wb") as file:
        file.write(manifest)
    code, out, err = registry("validate", str(folder), "-o", "json")
    result = json.loads(out) if out else None
    if code == 1:  # refusing the name as a finding is a fix too
        assert result is None or result["valid"] is False, err
        return
    for path in result["files"]:
        path.encode("utf-8")  # UnicodeEncodeError: a lone surrogate
