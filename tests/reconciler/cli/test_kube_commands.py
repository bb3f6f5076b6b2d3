"""The CLI with a (fake) cluster: health gates what becomes routable."""

from __future__ import annotations

import pytest

from tests.fakes.kube import FakeKube, deployment
from tests.helpers import history, listed, manifest_file, ok

ENV = "production"


def models(cli) -> dict[str, dict]:
    return {e["model_name"]: e for e in listed(cli)}


def revision(cli, environment: str = ENV) -> int:
    return max((r["revision"] for r in history(cli, "--environment", environment)), default=0)


def auto_apply(cli, *args: str):
    return cli("apply", *map(str, args), "--auto-approve")


def test_plan_shows_pending_with_the_rollout_reason(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    kube.add_model("mistral-7b", ENV, ready=0)

    result = cli("plan", str(manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b", "gpt-neo")))

    assert result.returncode == 0, result.stderr
    text = result.stdout
    llama, mistral, gpt = (text[text.index(f"+ {m}") :] for m in ("llama", "mistral", "gpt-neo"))
    assert 'status     = "ready"' in llama.split("+ ", 2)[1]
    assert 'status     = "pending"' in mistral.split("+ ", 2)[1]
    assert (
        "reason     = Progressing: 0 of 1 updated replicas are available"
        in mistral.split("+ ", 2)[1]
    )
    assert "deployment gpt-neo-production not found in namespace system" in gpt
    assert kube.count() == 2  # one namespace: one list of each kind
    assert models(cli) == {}  # plan writes nothing


def test_pending_becomes_ready_on_a_later_apply(kube: FakeKube, cli, tmp_path):
    path = manifest_file(tmp_path, ENV, "llama-2-7b")
    kube.add_model("llama-2-7b", ENV, ready=0)

    first = auto_apply(cli, path)

    assert first.returncode == 0, first.stderr
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("pending", "Progressing")
    assert entry["last_health_check"]

    kube.set_deployment(deployment("llama-2-7b-production", "system"))
    second = auto_apply(cli, path)

    assert second.returncode == 0, second.stderr
    assert '"pending" -> "ready"' in second.stdout
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("ready", "Healthy")
    assert revision(cli) == 2


def test_ready_entry_whose_deployment_degrades_is_planned_to_pending(kube: FakeKube, cli, tmp_path):
    path = manifest_file(tmp_path, ENV, "llama-2-7b")
    kube.add_model("llama-2-7b", ENV)
    assert auto_apply(cli, path).returncode == 0
    kube.set_deployment(deployment("llama-2-7b-production", "system", deadline_exceeded=True))

    result = auto_apply(cli, path)

    assert result.returncode == 0, result.stderr
    assert "exceeded its progress deadline" in result.stdout
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("pending", "Degraded")


def test_health_only_apply_records_the_check_without_a_revision(kube: FakeKube, cli, tmp_path):
    path = manifest_file(tmp_path, ENV, "llama-2-7b")
    kube.add_model("llama-2-7b", ENV)
    assert auto_apply(cli, path).returncode == 0
    checked = models(cli)["llama-2-7b"]["last_health_check"]

    result = auto_apply(cli, path)

    assert result.returncode == 0, result.stderr
    assert "No changes to apply." in result.stderr
    assert models(cli)["llama-2-7b"]["last_health_check"] > checked
    assert revision(cli) == 1
    exported = cli("export", "--environment", ENV, "--out", str(tmp_path / "export.yaml"))
    assert exported.returncode == 0, exported.stderr
    replan = cli("plan", str(tmp_path / "export.yaml"), "--detailed-exitcode")
    assert replan.returncode == 0, replan.stdout + replan.stderr


def test_saved_plan_records_the_health_seen_when_planning(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    saved = tmp_path / "plan.json"
    ok(cli("plan", str(manifest_file(tmp_path, ENV, "llama-2-7b")), "--out", str(saved)))

    result = cli("apply", str(saved))

    assert result.returncode == 0, result.stderr
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("ready", "Healthy")
    assert entry["last_health_check"]
    assert kube.count() == 2  # applying a saved plan does not observe again


def test_wait_applies_once_the_deployment_is_ready(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    # Rolling out at the first observation, finished at the next: no race with start-up.
    kube.ready_after_lists("llama-2-7b-production", "system", 1)

    result = auto_apply(
        cli, manifest_file(tmp_path, ENV, "llama-2-7b"), "--wait", "--timeout", "120"
    )

    assert result.returncode == 0, result.stderr
    assert "Waiting for 1 deployment(s) to become healthy" in result.stderr
    assert "production/llama-2-7b" in result.stderr
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("ready", "Healthy")
    assert revision(cli) == 1  # one apply, after the wait, not pending first


def test_wait_timing_out_applies_what_it_has(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    kube.add_model("gpt-neo", ENV, paused=True)

    path = manifest_file(tmp_path, ENV, "llama-2-7b", "gpt-neo")
    result = cli("apply", str(path), "--auto-approve", "--wait", env={"REGISTRY_WAIT_TIMEOUT": "1"})

    assert result.returncode == 0, result.stderr
    assert "--wait timed out after 1 s; applying production/gpt-neo as pending" in result.stderr
    found = models(cli)
    assert (found["llama-2-7b"]["status"], found["gpt-neo"]["status"]) == ("ready", "pending")
    assert found["gpt-neo"]["health"] == "Suspended"


def test_a_wait_timeout_that_is_not_a_number_of_seconds_is_refused(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    path = str(manifest_file(tmp_path, ENV, "llama-2-7b"))
    for flags, env, shown in (
        (("--timeout", "nan"), {}, "'nan'"),
        (("--timeout", "1e9"), {}, "'1e9'"),
        (("--timeout", "90000"), {}, "90000"),
        ((), {"REGISTRY_WAIT_TIMEOUT": "-5"}, "'-5'"),
    ):
        result = cli("apply", path, "--auto-approve", "--wait", *flags, env=env)
        assert result.returncode == 1, flags
        assert result.stderr.startswith("error: ") and f"invalid wait timeout {shown}" in (
            result.stderr
        ), result.stderr
        assert "from 0 and at most 86400" in result.stderr
    assert models(cli) == {}  # nothing was applied


def test_wait_is_refused_for_a_saved_plan(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    saved = tmp_path / "plan.json"
    ok(cli("plan", str(manifest_file(tmp_path, ENV, "llama-2-7b")), "--out", str(saved)))

    result = cli("apply", str(saved), "--wait")

    assert result.returncode == 1
    assert "error: --wait re-plans from the manifests" in result.stderr
    assert models(cli) == {}


def test_no_kube_skips_observation(kube: FakeKube, cli, tmp_path):
    result = auto_apply(cli, manifest_file(tmp_path, ENV, "llama-2-7b"), "--no-kube")

    assert result.returncode == 0, result.stderr
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"], entry["last_health_check"]) == (
        "ready",
        "Unknown",
        None,
    )
    assert kube.count() == 0


def test_no_kubeconfig_is_said_once_and_models_are_ready(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    folder = tmp_path / "manifests"
    folder.mkdir()
    manifest_file(folder, "staging", "llama-2-7b")
    manifest_file(folder, "production", "gpt-neo")

    result = auto_apply(cli, folder)

    assert result.returncode == 0, result.stderr
    notice = (
        "kubernetes: no kubeconfig found (KUBECONFIG names no file that exists); "
        "health is not checked (Unknown)"
    )
    assert result.stderr.count(notice) == 1
    assert {m: (e["status"], e["health"]) for m, e in models(cli).items()} == {
        "llama-2-7b": ("ready", "Unknown"),
        "gpt-neo": ("ready", "Unknown"),
    }


def test_explicit_context_without_kubeconfig_is_an_error(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))

    result = cli("plan", str(manifest_file(tmp_path, ENV, "llama-2-7b")), "--kube-context", "prod")

    assert result.returncode == 1
    assert "error: --kube-context prod was given but no kubeconfig found" in result.stderr


def test_manifest_context_selects_the_cluster(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    wrong = manifest_file(tmp_path, ENV, "llama-2-7b", spec="  kube:\n    context: other-cluster")

    result = cli("plan", str(wrong))

    assert result.returncode == 1
    assert "error: cannot use the kubeconfig context 'other-cluster'" in result.stderr
    overridden = cli("plan", str(wrong), "--kube-context", "test-cluster")
    assert overridden.returncode == 0, overridden.stderr
    assert kube.count() == 2


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (
            lambda kube: kube.fail(403, times=10, kind="services"),
            "cannot list services in namespace system: the cluster context test-cluster",
        ),
        (lambda kube: kube.close(), "cannot list deployments in namespace system: the cluster"),
    ],
    ids=["forbidden", "unreachable"],
)
def test_cluster_errors_fail_apply_and_write_nothing(
    kube: FakeKube, cli, tmp_path, arrange, message
):
    kube.add_model("llama-2-7b", ENV)
    arrange(kube)

    result = auto_apply(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(f"error: {message}")
    assert "Traceback" not in result.stderr
    assert models(cli) == {}
    assert revision(cli) == 0


def test_server_error_then_success_still_applies(kube: FakeKube, cli, tmp_path):
    kube.add_model("llama-2-7b", ENV)
    kube.fail(500, times=1)

    result = auto_apply(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))

    assert result.returncode == 0, result.stderr
    assert models(cli)["llama-2-7b"]["status"] == "ready"
    assert kube.count() == 3


def register_in_development(cli, *args: str):
    return cli("register", "--model-name", "llama-2-7b", "--environment", "development", *args)


def test_register_verifies_health_and_records_it(kube: FakeKube, cli):
    kube.add_model("llama-2-7b", "development", replicas=2)

    result = register_in_development(cli)

    assert result.returncode == 0, result.stderr
    assert "Deployment is healthy (2/2 replicas ready)." in result.stderr
    entry = models(cli)["llama-2-7b"]
    assert (entry["status"], entry["health"]) == ("ready", "Healthy")
    assert entry["last_health_check"]


def test_register_refuses_an_unhealthy_deployment_and_writes_nothing(kube: FakeKube, cli):
    kube.add_model("llama-2-7b", "development", ready=0)

    result = register_in_development(cli)

    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: deployment llama-2-7b-development in namespace system is not healthy "
        "(Progressing: 0 of 1 updated replicas are available), so llama-2-7b was not registered "
        "and nothing was written."
    )
    assert "--no-verify-health" in result.stderr
    assert models(cli) == {}


def test_register_refuses_a_service_without_the_endpoint_port(kube: FakeKube, cli):
    kube.add_model("llama-2-7b", "development", ports=(8080,))

    result = register_in_development(cli)

    assert result.returncode == 1
    assert "does not expose port 8000 (exposed: 8080)" in result.stderr
    assert models(cli) == {}


def test_register_without_verification_skips_the_cluster(kube: FakeKube, cli):
    result = register_in_development(cli, "--no-verify-health")

    assert result.returncode == 0, result.stderr
    assert models(cli)["llama-2-7b"]["health"] == "Unknown"
    assert kube.count() == 0


def test_register_without_a_cluster_says_so_and_registers(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))

    result = register_in_development(cli)

    assert result.returncode == 0, result.stderr
    assert "kubernetes: no kubeconfig found" in result.stderr
    assert models(cli)["llama-2-7b"]["status"] == "ready"


def test_register_with_a_forbidding_cluster_writes_nothing(kube: FakeKube, cli):
    kube.fail(403, times=10)

    result = register_in_development(cli)

    assert result.returncode == 1
    assert "error: cannot list deployments in namespace system" in result.stderr
    assert models(cli) == {}


def test_health_command_reports_replicas(kube: FakeKube, cli):
    kube.add_model("llama-2-7b", "development", replicas=3, ready=3)
    kube.add_model("gpt-neo", "development", replicas=3, ready=1)

    good = cli("health", "-m", "llama-2-7b", "-e", "development")
    bad = cli("health", "-m", "gpt-neo", "-e", "development")

    assert (good.returncode, good.stdout.strip()) == (
        0,
        "llama-2-7b-development (namespace system): Healthy, 3/3 replicas ready",
    )
    assert (bad.returncode, bad.stdout.strip()) == (
        1,
        "gpt-neo-development (namespace system): Progressing, "
        "1 of 3 updated replicas are available",
    )
