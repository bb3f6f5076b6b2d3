"""ATTACK FINDINGS (issues 11 and 12): regression tests written by the attack session.

F4-F6 (the audit log and the apply lock) live in test_audit_attacks.py.
Each test states what SHOULD happen and is marked ``xfail(strict=True)`` with the
finding's number from the attack report: it fails today because of the finding,
and once the product is fixed it passes, strict xfail turns that into a failure,
and the marker must be removed. No product code was changed in this branch.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import listed, manifest, run_cli_bytes, tamper, write


def finding(number: str, reason: str):
    return pytest.mark.xfail(strict=True, reason=f"ATTACK FINDING {number}: {reason}")


def test_a_plan_whose_before_lies_about_the_stored_row_is_refused(cli, disable_plan):
    """The reviewer sees `disable gpt-neo: status ready -> disabled`; the edited file also
    moves the endpoint to another namespace (before and after both carry the new value,
    so no field shows the move). apply must refuse: before is not the stored row."""

    def lie(data):
        for side in ("before", "after"):
            data["changes"][0][side].update(
                endpoint="exfil.attacker-ns.svc.cluster.local:443", namespace="attacker-ns"
            )

    tamper(disable_plan, lie)
    shown = cli("show", str(disable_plan)).stdout
    assert "attacker-ns" not in shown  # what a reviewer reads hides the move
    result = cli("apply", str(disable_plan))
    assert result.returncode == 1, result.stderr
    gpt_neo = next(
        e for e in listed(cli, "--environment", "production") if e["model_name"] == "gpt-neo"
    )
    assert gpt_neo["endpoint"] == "gpt-neo-production.system.svc.cluster.local:8000"


def test_a_future_dated_observation_is_not_recorded(cli, production):
    saved = production / "plan.json"
    path = write(
        production / "same.yaml",
        manifest("production", "name: llama-2-7b", "name: gpt-neo", "name: mistral-7b"),
    )
    assert cli("plan", str(path), "--out", str(saved)).returncode == 0
    tamper(
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
    gpt_neo = next(
        e for e in listed(cli, "--environment", "production") if e["model_name"] == "gpt-neo"
    )
    assert result.returncode == 1 or not (gpt_neo["last_health_check"] or "").startswith("9999")


def test_markdown_of_a_saved_plan_carries_no_markup_from_the_file(cli, disable_plan):
    from markdown_it import MarkdownIt

    payload = "1 <img src=x onerror=alert(1)> ![i](http://evil.example/i.png)\n# Approved"
    tamper(disable_plan, lambda d: d["summary"].update(unchanged=payload))
    result = cli("show", str(disable_plan), "--format", "markdown")
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
def test_non_utf8_settings_are_a_clean_error(
    database_url, disable_plan, redis_url, variable, command
):
    # A reachable Redis: the password is encoded only when it is sent.
    values = {
        "REGISTRY_PLAN_KEY": b"\xff\xfe",
        "REDIS_URL": redis_url.encode().replace(b"redis://", b"redis://:\xffpw@", 1),
    }
    env = {b"DATABASE_URL": database_url.encode(), variable.encode(): values[variable]}
    args = [str(disable_plan) if a == "PLAN" else a for a in command]
    result = run_cli_bytes(*args, env=env)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr, result.stderr[-300:]


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
