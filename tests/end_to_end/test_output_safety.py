"""Issue 11: what the CLI prints cannot be turned against its reader, and free text is checked.

Stored values are shown, never obeyed: on a real terminal (a pseudo-terminal,
since piped output would hide escape sequences), in CSV and in messages.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.helpers import history, manifest_file, on_terminal, run_cli_bytes

TITLE_AND_CLEAR = "\x1b]0;TITLE\x07\x1b[2J"
FORMULAS = ("=cmd|' /C calc'!A0", "+1+cmd|x", "-2+3", "@SUM(A1)", "\t=1", "\r=1")


def legacy_audit_row(conn, *, actor: str, model_name: str = "llama-2-7b", commit_sha=None):
    """An audit row as rows written before input checks could hold (raw text)."""
    # chained as migration 0002 chains the rows written before it; migration 0004's
    # checks, which refuse such text, are set aside for it (as NOT VALID keeps old rows)
    checks = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'registry_audit_log'::regclass AND contype = 'c'"
    ).fetchall()
    for name, _ in checks:
        conn.execute(f"ALTER TABLE registry_audit_log DROP CONSTRAINT {name}")
    conn.execute(
        "INSERT INTO registry_audit_log"
        " (recorded_at, environment, revision, plan_id, action, model_name, actor, commit_sha,"
        "  after, chain_hash)"
        " SELECT now(), 'production', 1, 'legacy', 'create', %(model)s, %(actor)s, %(sha)s, '{}',"
        "  registry_audit_chain_step(NULL, (SELECT chain_hash FROM registry_audit_log"
        "   WHERE environment = 'production' ORDER BY id DESC LIMIT 1),"
        "   registry_audit_content(now(), 'production', 1, 'legacy', 'create', %(model)s,"
        "   %(actor)s, %(sha)s, NULL, NULL, '{}'))",
        {"model": model_name, "actor": actor, "sha": commit_sha},
    )
    for name, definition in checks:
        conn.execute(f"ALTER TABLE registry_audit_log ADD CONSTRAINT {name} {definition}")


def test_history_on_a_terminal_shows_escape_sequences_instead_of_running_them(conn, database_url):
    legacy_audit_row(conn, actor=TITLE_AND_CLEAR, commit_sha="abc\x1b[31mdef")
    legacy_audit_row(conn, actor="mallory\rroot", model_name="gpt\u202eneo")

    code, screen = on_terminal("history", env={"DATABASE_URL": database_url})
    assert code == 0, screen

    # The terminal turns each \n into \r\n; any other CR or ESC came from a value.
    assert b"\x1b" not in screen and b"\x07" not in screen
    assert b"\r" not in screen.replace(b"\r\n", b"")
    assert "\u202e".encode() not in screen
    text = screen.decode()
    assert "\\x1b]0;TITLE\\x07\\x1b[2J" in text
    assert "mallory\\rroot" in text
    assert "gpt\\u202eneo" in text
    assert "abc\\x1b[31m" in text


def test_history_csv_neutralises_formulas(cli, conn):
    for payload in FORMULAS:
        legacy_audit_row(conn, actor=payload, commit_sha=payload)

    result = cli("history", "--format", "csv")

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for cell in (row["actor"], row["commit_sha"]):
            assert cell.startswith("'"), cell
            assert "\t" not in cell and "\r" not in cell
    assert {row["actor"] for row in rows} >= {"'=cmd|' /C calc'!A0", "'@SUM(A1)", "'\\t=1"}


def test_history_json_keeps_the_stored_text_exactly(cli, conn):
    legacy_audit_row(conn, actor=TITLE_AND_CLEAR)
    result = cli("history", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout  # JSON escapes it ...
    assert json.loads(result.stdout)[0]["actor"] == TITLE_AND_CLEAR  # ... and keeps it


def register_unverified(cli, *args: str, env: dict[str, str] | None = None):
    return cli(
        "register", "-m", "llama-2-7b", "-e", "production", "--no-verify-health", *args, env=env
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--actor", "mallory\rroot"], {}, "--actor 'mallory\\rroot' contains the control"),
        (["--actor", TITLE_AND_CLEAR], {}, "--actor '\\x1b]0;TITLE\\x07\\x1b[2J' contains"),
        (["--actor", "x" * 129], {}, "is 129 characters long, over the limit of 128"),
        (["--actor", ""], {}, "--actor '' is empty"),
        ([], {"GITLAB_USER_LOGIN": "ci\u202etoor"}, "GITLAB_USER_LOGIN 'ci\\u202etoor' contains"),
        ([], {"CI_COMMIT_SHA": "abc\x1b[2J"}, "CI_COMMIT_SHA 'abc\\x1b[2J' is not a commit id"),
        ([], {"CI_COMMIT_SHA": "=cmd|x"}, "CI_COMMIT_SHA '=cmd|x' is not a commit id"),
        ([], {"CI_COMMIT_SHA": "a" * 65}, "is not a commit id (4 to 64 hexadecimal digits)"),
        ([], {"CI_PIPELINE_URL": "javascript:alert(1)"}, "is not an http(s) URL"),
        ([], {"CI_PIPELINE_URL": "https://x/" + "a" * 2048}, "over the limit of 2048"),
        ([], {"CI_PIPELINE_URL": "https://u:S3cr3t@gitlab.example/p/1"}, "credentials"),
    ],
)
def test_free_text_is_checked_before_anything_is_written(cli, args, env, message):
    result = register_unverified(cli, *args, env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "S3cr3t" not in result.stderr
    assert history(cli) == []


@pytest.mark.parametrize(
    ("args", "env", "what"),
    [
        ([b"--actor", b"caf\xe9"], {}, b"--actor 'caf\\udce9' is not valid UTF-8"),
        ([], {b"GITLAB_USER_LOGIN": b"\xff\xfe"}, b"GITLAB_USER_LOGIN '\\udcff\\udcfe' is not"),
        ([], {b"CI_COMMIT_SHA": b"ab\xffcd"}, b"CI_COMMIT_SHA 'ab\\udcffcd' is not a commit id"),
        ([], {b"CI_PIPELINE_URL": b"https://gitlab/\xff"}, b"CI_PIPELINE_URL 'https://gitlab/"),
    ],
)
def test_non_utf8_values_are_a_clean_error(database_url, cli, args, env, what):
    command = [b"register", b"-m", b"llama-2-7b", b"-e", b"production", b"--no-verify-health"]
    result = run_cli_bytes(*command, *args, env={b"DATABASE_URL": database_url.encode(), **env})

    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(b"error: ") and what in result.stderr
    assert b"Traceback" not in result.stderr and b"UnicodeEncodeError" not in result.stderr
    assert history(cli) == []


def test_valid_free_text_is_recorded(cli):
    sha = "0123456789abcdef0123456789abcdef01234567"
    env = {"CI_COMMIT_SHA": sha, "CI_PIPELINE_URL": "https://gitlab.example/group/p/-/pipelines/7"}
    result = register_unverified(cli, "--actor", "Jane Doe (ops)", env=env)

    assert result.returncode == 0, result.stderr
    [row] = history(cli)
    assert (row["actor"], row["commit_sha"], row["pipeline_url"]) == (
        "Jane Doe (ops)",
        sha,
        env["CI_PIPELINE_URL"],
    )


def test_manifest_apply_with_a_bad_actor_writes_nothing(cli, tmp_path: Path):
    manifest = tmp_path / "production.yaml"
    manifest.write_text(
        "apiVersion: registry.vllm.ai/v1\nkind: ModelRegistry\nmetadata:\n"
        "  environment: production\nspec:\n  models:\n    - name: llama-2-7b\n"
    )
    env = {"GITLAB_USER_LOGIN": "ci\x1b[2J"}
    result = cli("apply", str(manifest), "--auto-approve", "--no-kube", env=env)

    assert result.returncode == 1
    assert "error: GITLAB_USER_LOGIN 'ci\\x1b[2J' contains the control character" in result.stderr
    assert history(cli) == []


# --- URLs in messages ------------------------------------------------------------------------


def with_credentials(url: str, how: str) -> str:
    scheme, rest = url.split("://", 1)
    if how == "userinfo":
        return f"{scheme}://admin:S3cr3tPW@{rest}"
    return f"{url.rstrip('/')}/?token=S3cr3tPW&access_token=S3cr3tPW"


@pytest.mark.parametrize("how", ["userinfo", "token"])
@pytest.mark.parametrize("failure", ["unreachable", "forbidden"])
def test_kubeconfig_server_credentials_are_never_printed(kube, cli, tmp_path, how, failure):
    kube.add_model("llama-2-7b", "production")
    config = kube.write_kubeconfig(tmp_path / "kubeconfig", server=with_credentials(kube.url, how))
    if failure == "unreachable":
        kube.close()
    else:
        kube.fail(403, times=10)

    result = cli(
        "apply",
        str(manifest_file(tmp_path, "production", "llama-2-7b")),
        "--auto-approve",
        env={"KUBECONFIG": str(config)},
    )

    assert result.returncode == 1
    assert "error: cannot list deployments in namespace system: the cluster" in result.stderr
    assert "S3cr3tPW" not in result.stderr + result.stdout
    assert "admin" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([b"list", b"--environment", b"\xff"], b"--environment '\\udcff' is not valid UTF-8"),
        ([b"history", b"-m", b"a\x1bb"], b"--model-name 'a\\x1bb' contains the control"),
    ],
)
def test_filters_are_checked(database_url, args, message):
    result = run_cli_bytes(*args, env={b"DATABASE_URL": database_url.encode()})
    assert result.returncode == 1
    assert result.stderr.startswith(b"error: ") and message in result.stderr
    assert b"Traceback" not in result.stderr
