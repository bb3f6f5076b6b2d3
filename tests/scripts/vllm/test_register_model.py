"""scripts/vllm/register-model.sh: the post-deployment hook of the registration workflow."""

from __future__ import annotations

import os
import subprocess

from tests.fakes.kube import FakeKube
from tests.helpers import BIN, ROOT, cli_env, listed

SCRIPT = ROOT / "scripts/vllm/register-model.sh"


def run_script(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env({"DATABASE_URL": database_url})
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_healthy_deployment_is_registered_with_the_workflow_output(
    kube: FakeKube, database_url, cli
):
    kube.add_model("llama-2-7b", "development")

    result = run_script(database_url, "llama-2-7b", "development", "system")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[INFO] Registering model deployment...",
        "[INFO]   Model: llama-2-7b",
        "[INFO]   Environment: development",
        "[INFO]   Namespace: system",
        "[INFO]   Endpoint: llama-2-7b-development.system.svc.cluster.local:8000",
        "[INFO] Verifying deployment...",
        "[INFO] ✓ Deployment is healthy (1/1 replicas ready)",
        "[INFO] Registering model in registry...",
        "[INFO] ✓ Model registered successfully",
    ]
    [entry] = listed(cli)
    assert (entry["model_name"], entry["status"], entry["health"]) == (
        "llama-2-7b",
        "ready",
        "Healthy",
    )
    assert entry["last_health_check"]


def test_namespace_defaults_to_system_and_shows_replica_counts(kube: FakeKube, database_url, cli):
    kube.add_model("mistral-7b", "staging", replicas=3)

    result = run_script(database_url, "mistral-7b", "staging")

    assert result.returncode == 0, result.stderr
    assert "[INFO]   Namespace: system" in result.stdout
    assert "[INFO] ✓ Deployment is healthy (3/3 replicas ready)" in result.stdout
    assert [e["namespace"] for e in listed(cli)] == ["system"]


def test_unhealthy_deployment_fails_clearly_and_registers_nothing(
    kube: FakeKube, database_url, cli
):
    kube.add_model("llama-2-7b", "development", "inference", replicas=2, ready=1)

    result = run_script(database_url, "llama-2-7b", "development", "inference")

    assert result.returncode == 1
    assert "[INFO] Verifying deployment..." in result.stdout
    assert "Model registered" not in result.stdout
    assert result.stderr.splitlines() == [
        "[ERROR] ✗ Deployment is not healthy: Progressing (1/2 replicas ready): "
        "1 of 2 updated replicas are available",
        "[ERROR]   Check it with: kubectl rollout status deployment/llama-2-7b-development "
        "-n inference",
    ]
    assert listed(cli) == []


def test_missing_deployment_fails(kube: FakeKube, database_url, cli):
    result = run_script(database_url, "gpt-neo", "production")

    assert result.returncode == 1
    assert "[ERROR] ✗ Deployment is not healthy: Missing" in result.stderr
    assert "deployment gpt-neo-production not found in namespace system" in result.stderr
    assert listed(cli) == []


def test_no_cluster_configured_fails_instead_of_registering_blind(
    tmp_path, monkeypatch, database_url, cli
):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))

    result = run_script(database_url, "llama-2-7b", "development")

    assert result.returncode == 1
    assert result.stderr.startswith("[ERROR] cannot check the health of llama-2-7b: no kubeconfig")
    assert listed(cli) == []


def test_forbidden_cluster_fails_with_the_refused_verb(kube: FakeKube, database_url, cli):
    kube.fail(403, times=10)

    result = run_script(database_url, "llama-2-7b", "development")

    assert result.returncode == 1
    assert "[ERROR] cannot list deployments in namespace system" in result.stderr
    assert listed(cli) == []


def test_invalid_model_name_fails_before_anything(kube: FakeKube, database_url, cli):
    result = run_script(database_url, "Llama_2", "development")

    assert result.returncode == 1
    assert "[ERROR] invalid model name 'Llama_2'" in result.stderr
    assert kube.count() == 0
    assert listed(cli) == []


def test_wrong_usage_prints_usage(database_url):
    result = run_script(database_url, "llama-2-7b")

    assert result.returncode == 2
    assert "[ERROR] usage: " in result.stderr
