"""The fixes of the attack findings F1, F2, F3, F8 and F9, beyond the tester's regressions
(tests/end_to_end/test_attack_findings.py): the edges of each rule, through the installed CLI."""

from __future__ import annotations

import json

import pytest

from tests.helpers import apply_refused, cli_state, listed, manifest, run_cli_bytes, tamper, write

FUTURE = "9999-12-31T23:59:59+00:00"


def _recompute_fields(change: dict) -> None:
    """What a careful attacker does: fields that agree with the edited before and after."""
    before, after = change["before"], change["after"]
    names = sorted(("namespace", "endpoint", "status", "managed_by", "deregistered"))
    change["fields"] = [
        {"name": n, "old": before[n], "new": after[n]} for n in names if before[n] != after[n]
    ]


def test_a_before_that_differs_from_the_stored_row_is_refused(cli, disable_plan):
    def lie(data):
        for side in ("before", "after"):
            data["changes"][0][side]["managed_by"] = "cli"  # stored: manifest

    apply_refused(cli, tamper(disable_plan, lie), "is not the stored entry")


def test_a_before_pending_where_the_row_is_ready_is_liveness_and_applies(cli, disable_plan):
    """The controller moves ready <-> pending without a revision bump: not a stale plan."""

    def pending(data):
        change = data["changes"][0]
        change["before"]["status"] = "pending"
        _recompute_fields(change)

    result = cli("apply", str(tamper(disable_plan, pending)))
    assert result.returncode == 0, result.stderr
    gpt_neo = next(
        e for e in listed(cli, "--environment", "production") if e["model_name"] == "gpt-neo"
    )
    assert gpt_neo["status"] == "disabled"


def test_a_before_disabled_where_the_row_is_ready_is_refused(cli, disable_plan):
    def disabled(data):
        change = data["changes"][0]
        change["before"]["status"] = "disabled"
        change["after"]["endpoint"] = "exfil.attacker-ns.svc.cluster.local:443"
        change["after"]["namespace"] = "attacker-ns"
        change["action"] = "update"
        data["summary"].update(disable=0, update=1)
        _recompute_fields(change)

    apply_refused(cli, tamper(disable_plan, disabled), "is not the stored entry")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(created_at=FUTURE), "created_at '9999-12-31T23:59:59+00:00' is in"),
        (lambda d: d.update(created_at="yesterday"), "created_at is not an ISO time"),
        (
            lambda d: d["changes"][0]["after"].update(last_health_check=FUTURE),
            "last_health_check '9999-12-31T23:59:59+00:00' is in the future",
        ),
        (
            lambda d: d["changes"][0]["after"].update(health="Degraded"),
            "after has health 'Degraded'",
        ),
        (
            lambda d: d.update(
                observations=[{"model_name": "gpt-neo", "health": "Healthy", "checked_at": FUTURE}]
            ),
            "checked_at '9999-12-31T23:59:59+00:00' is in the future",
        ),
        (
            lambda d: d.update(
                observations=[
                    {"model_name": "gpt-neo", "health": "Healthy", "checked_at": "2026-01-01"}
                ]
            ),
            "has no time zone",
        ),
    ],
    ids=["created-future", "created-garbage", "lhc-future", "health", "obs-future", "naive"],
)
def test_times_and_health_the_plan_did_not_see_are_refused(cli, disable_plan, edit, message):
    apply_refused(cli, tamper(disable_plan, edit), message)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["summary"].update(unchanged=-1), "unchanged -1"),
        (lambda d: d["summary"].update(unchanged=True), "unchanged True"),
        (lambda d: d["summary"].update(disable=1.0), "summary counts are not integers"),
        (lambda d: d["summary"].update(unchanged="2"), "unchanged '2'"),
        (lambda d: d["summary"].update(disable=0), "its summary does not count its changes"),
        (lambda d: d.update(warnings="approved"), "warnings is not a list of texts"),
        (lambda d: d.update(unmanaged=["x" * 5000]), "unmanaged is not a list of texts"),
        (lambda d: d.update(mass_removal=7), "mass_removal is neither null nor text"),
    ],
    ids=[
        "negative",
        "bool",
        "float",
        "text",
        "miscount",
        "warnings",
        "long-unmanaged",
        "mass-removal",
    ],
)
def test_the_summary_and_notes_are_checked(cli, disable_plan, edit, message):
    apply_refused(cli, tamper(disable_plan, edit), message)
    shown = cli("show", str(disable_plan), "--format", "markdown")
    assert shown.returncode == 1 and shown.stdout == ""


def test_a_long_environment_and_endpoint_are_echoed_as_excerpts(cli, tmp_path):
    path = write(tmp_path / "long.yaml", manifest("p" * 100_000, "name: gpt-neo"))
    result = cli("validate", str(path))
    assert result.returncode == 1
    assert "(100000 characters)" in result.stdout + result.stderr
    assert len(result.stdout) + len(result.stderr) < 10_000


def test_a_non_utf8_database_url_is_a_clean_error():
    result = run_cli_bytes(
        "list", env={b"DATABASE_URL": b"postgresql://u:\xffsecret@127.0.0.1:1/db"}
    )
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert b"error: invalid DATABASE_URL: it is not UTF-8 text" in result.stderr
    assert b"secret" not in result.stderr


def test_a_non_utf8_redis_password_is_not_shown(cli, redis_url):
    url = redis_url.encode().replace(b"redis://", b"redis://:\xffsecret@", 1)
    result = run_cli_bytes("cache", "sync", env={b"REDIS_URL": url})
    assert result.returncode == 1
    assert b"error: invalid REDIS_URL: it is not UTF-8 text" in result.stderr
    assert b"secret" not in result.stderr


@pytest.mark.parametrize("value", ["٣", "1_0", " 3", "3e1", "0x10"])
def test_lock_timeout_is_ascii_digits(cli, production, value):
    before = cli_state(cli)
    result = cli("disable", "-m", "gpt-neo", "-e", "production", "--lock-timeout", value)
    assert result.returncode == 1
    assert "invalid lock timeout" in result.stderr and "ASCII digits" in result.stderr
    assert cli_state(cli) == before


def test_a_decimal_lock_timeout_still_works(cli, production):
    result = cli("disable", "-m", "gpt-neo", "-e", "production", "--lock-timeout", "2.5")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [("٣", "invalid limit '٣'"), ("1_0", "ASCII digits"), ("0", "from 1 to 10000")],
)
def test_history_limit_is_ascii_digits_in_range(cli, production, value, message):
    result = cli("history", "--limit", value)
    assert result.returncode == 1
    assert message in result.stderr
    assert cli("history", "--limit", "2", "-o", "json").returncode == 0


def test_code_quality_path_has_no_control_characters(cli, tmp_path):
    path = write(tmp_path / "bad\x1b[31m.yaml", manifest("production", "name: Bad_Name"))
    report = tmp_path / "cq.json"
    cli("validate", str(path), "--codequality", str(report))
    findings = json.loads(report.read_text())
    assert findings and all("\x1b" not in f["location"]["path"] for f in findings)
    assert any("\\x1b" in f["location"]["path"] for f in findings)
