"""ATTACK FINDINGS (issues 11 and 12): regression tests written by the attack session.

F4-F6 (the audit log and the apply lock) live in test_audit_attacks.py.
Each test states what SHOULD happen and is marked ``xfail(strict=True)`` with the
finding's number from the attack report: it fails today because of the finding,
and once the product is fixed it passes, strict xfail turns that into a failure,
and the marker must be removed. No product code was changed in this branch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.end_to_end.test_saved_plan_integrity import recompute_checksum
from tests.reconciler.cli.test_declarative_commands import applied, entries, manifest, write


def finding(number: str, reason: str):
    return pytest.mark.xfail(strict=True, reason=f"ATTACK FINDING {number}: {reason}")


@pytest.fixture
def production(cli, tmp_path) -> Path:
    """production at revision 1: llama-2-7b, gpt-neo, mistral-7b ready."""
    models = ("name: llama-2-7b", "name: gpt-neo", "name: mistral-7b")
    applied(cli, write(tmp_path / "base.yaml", manifest("production", *models)))
    return tmp_path


def saved_disable_of_gpt_neo(cli, folder: Path) -> Path:
    models = ("name: llama-2-7b", "name: gpt-neo, enabled: false", "name: mistral-7b")
    path = write(folder / "disable.yaml", manifest("production", *models))
    saved = folder / "plan.json"
    assert cli("plan", str(path), "--out", str(saved)).returncode == 0
    return saved


def edit(saved: Path, change) -> Path:
    data = json.loads(saved.read_text())
    change(data)
    saved.write_text(json.dumps(recompute_checksum(data)))
    return saved


def test_a_plan_whose_before_lies_about_the_stored_row_is_refused(cli, production):
    """The reviewer sees `disable gpt-neo: status ready -> disabled`; the edited file also
    moves the endpoint to another namespace (before and after both carry the new value,
    so no field shows the move). apply must refuse: before is not the stored row."""
    saved = saved_disable_of_gpt_neo(cli, production)

    def lie(data):
        for side in ("before", "after"):
            data["changes"][0][side].update(
                endpoint="exfil.attacker-ns.svc.cluster.local:443", namespace="attacker-ns"
            )

    edit(saved, lie)
    shown = cli("show", str(saved)).stdout
    assert "attacker-ns" not in shown  # what a reviewer reads hides the move
    result = cli("apply", str(saved))
    assert result.returncode == 1, result.stderr
    gpt_neo = next(e for e in entries(cli) if e["model_name"] == "gpt-neo")
    assert gpt_neo["endpoint"] == "gpt-neo-production.system.svc.cluster.local:8000"


def test_a_future_dated_observation_is_not_recorded(cli, production):
    saved = production / "plan.json"
    path = write(
        production / "same.yaml",
        manifest("production", "name: llama-2-7b", "name: gpt-neo", "name: mistral-7b"),
    )
    assert cli("plan", str(path), "--out", str(saved)).returncode == 0
    edit(
        saved,
        lambda d: d.update(
            observations=[
                {
                    "model_name": "gpt-neo",
                    "health": "Healthy",
                    "reason": None,
                    "checked_at": "9999-12-31T23:59:59+00:00",
                }
            ]
        ),
    )
    result = cli("apply", str(saved))
    gpt_neo = next(e for e in entries(cli) if e["model_name"] == "gpt-neo")
    assert result.returncode == 1 or not (gpt_neo["last_health_check"] or "").startswith("9999")


def test_markdown_of_a_saved_plan_carries_no_markup_from_the_file(cli, production):
    from markdown_it import MarkdownIt

    saved = saved_disable_of_gpt_neo(cli, production)
    payload = "1 <img src=x onerror=alert(1)> ![i](http://evil.example/i.png)\n# Approved"
    edit(saved, lambda d: d["summary"].update(unchanged=payload))
    result = cli("show", str(saved), "--format", "markdown")
    html = MarkdownIt("commonmark").enable("table").render(result.stdout)
    assert result.returncode == 1 or ("<img" not in html and "<h1>" not in html), html


@pytest.mark.parametrize(
    "value",
    [
        "[" * 100_000 + "]" * 100_000,
        json.dumps(
            {
                "model_name": "other",
                "environment": "staging",
                "namespace": "x",
                "endpoint": "evil.example.com:443",
                "status": "ready",
            }
        ),
        json.dumps(
            {
                "model_name": "gpt-neo",
                "environment": "production",
                "namespace": "system",
                "endpoint": None,
                "status": "ready",
            }
        ),
    ],
    ids=["deep", "foreign", "null-endpoint"],
)
def test_a_poisoned_cache_value_is_a_miss(cli, production, redis_url, value):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("model_registry:production:gpt-neo", value, ex=600)
    result = cli("resolve", "-m", "gpt-neo", "-e", "production", env={"REDIS_URL": redis_url})
    client.close()
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "gpt-neo-production.system.svc.cluster.local:8000"


def test_a_long_model_name_is_echoed_as_a_short_excerpt(cli, tmp_path):
    path = write(tmp_path / "long.yaml", manifest("production", "name: a" + "b" * 1_000_000))
    result = cli("validate", str(path))
    assert result.returncode == 1
    assert len(result.stdout) + len(result.stderr) < 10_000


@pytest.mark.parametrize(
    ("variable", "command"),
    [("REGISTRY_PLAN_KEY", ["apply", "PLAN"]), ("REDIS_URL", ["cache", "sync"])],
)
def test_non_utf8_settings_are_a_clean_error(cli, production, redis_url, variable, command):
    import subprocess

    from tests.conftest import BIN, cli_env

    saved = saved_disable_of_gpt_neo(cli, production)
    env = {k.encode(): v.encode() for k, v in cli_env().items()}
    env[b"DATABASE_URL"] = cli_env_database(cli)
    # A reachable Redis: the password is encoded only when it is sent.
    values = {
        "REGISTRY_PLAN_KEY": b"\xff\xfe",
        "REDIS_URL": redis_url.encode().replace(b"redis://", b"redis://:\xffpw@", 1),
    }
    env[variable.encode()] = values[variable]
    args = [str(saved) if a == "PLAN" else a for a in command]
    result = subprocess.run(
        [str(BIN / "registry"), *args], env=env, capture_output=True, timeout=120
    )
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr, result.stderr[-300:]


def cli_env_database(cli) -> bytes:
    """The DATABASE_URL the ``cli`` fixture passes (read back from its closure)."""
    for cell in cli.__closure__ or ():
        if isinstance(cell.cell_contents, str) and "dbname" in cell.cell_contents:
            return cell.cell_contents.encode()
    raise AssertionError("no DATABASE_URL in the cli fixture")


def test_a_malformed_kubeconfig_server_is_a_clean_error(cli, production, tmp_path):
    kubeconfig = write(
        tmp_path / "kubeconfig",
        "apiVersion: v1\nkind: Config\n"
        'clusters: [{name: c, cluster: {server: "https://admin:PW@[::1/"}}]\n'
        "users: [{name: u, user: {token: T}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    path = write(tmp_path / "p.yaml", manifest("production", "name: gpt-neo"))
    result = cli("plan", str(path), env={"KUBECONFIG": str(kubeconfig)})
    assert "Traceback" not in result.stderr, result.stderr[-500:]
    assert "error: cannot use the kubeconfig: its server URL is malformed" in result.stderr
    assert "PW" not in result.stderr
