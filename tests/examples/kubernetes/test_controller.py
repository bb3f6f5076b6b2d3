"""examples/kubernetes/controller.yaml grants what the controller needs, and no more."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers import ROOT

MANIFEST = ROOT / "examples/kubernetes/controller.yaml"
SERVICE_ACCOUNT = ("model-registry-controller", "model-registry")


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def one(objects: list[dict], kind: str) -> dict:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def granted(objects: list[dict], namespace: str) -> dict[tuple[str, str], set[str]]:
    """{(apiGroup, resource): verbs} the service account has in ``namespace``."""
    roles = {
        (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")): o
        for o in objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    verbs: dict[tuple[str, str], set[str]] = {}
    for binding in (o for o in objects if o["kind"] == "RoleBinding"):
        if binding["metadata"]["namespace"] != namespace:
            continue
        subjects = {(s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]}
        assert subjects == {("ServiceAccount", *SERVICE_ACCOUNT)}
        ref = binding["roleRef"]
        role_namespace = None if ref["kind"] == "ClusterRole" else namespace
        for rule in roles[(ref["kind"], ref["name"], role_namespace)]["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    verbs.setdefault((group, resource), set()).update(rule["verbs"])
    return verbs


@pytest.mark.parametrize("namespace", ["system", "inference"])
def test_model_namespaces_grant_reading_and_watching_only(objects, namespace):
    assert granted(objects, namespace) == {
        ("apps", "deployments"): {"get", "list", "watch"},
        ("", "services"): {"get", "list", "watch"},
        ("", "services/proxy"): {"get"},
    }


def test_the_controller_namespace_grants_the_lease_and_nothing_else(objects):
    assert granted(objects, SERVICE_ACCOUNT[1]) == {
        ("coordination.k8s.io", "leases"): {"get", "create", "update"},
    }
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"]  # never cluster-wide


def test_the_deployment_runs_two_replicas_of_the_controller(objects):
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]

    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["namespace"] == SERVICE_ACCOUNT[1]
    assert pod["spec"]["serviceAccountName"] == SERVICE_ACCOUNT[0]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert container["command"] == ["registry", "controller", "--environment", "production"]


def test_connection_urls_come_from_a_secret_never_from_the_manifest(objects):
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}

    for name in ("DATABASE_URL", "REDIS_URL", "REGISTRY_LISTEN_URL", "VLLM_API_KEY"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    assert not env["DATABASE_URL"]["valueFrom"]["secretKeyRef"].get("optional")
    assert not env["REDIS_URL"]["valueFrom"]["secretKeyRef"].get("optional")
    assert not [o for o in objects if o["kind"] == "Secret"]


def test_probes_and_metrics_port_are_wired_and_annotated(objects):
    pod = one(objects, "Deployment")["spec"]["template"]
    (container,) = pod["spec"]["containers"]

    assert container["ports"] == [{"name": "metrics", "containerPort": 9402, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9402",
        "prometheus.io/path": "/metrics",
    }


def test_the_pod_is_locked_down_and_sized(objects):
    spec = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = spec["containers"]

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    # SIGTERM releases the lease within 5 s: the grace period leaves room for it.
    assert spec["terminationGracePeriodSeconds"] > 5
