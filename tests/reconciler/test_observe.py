"""Observation against the fake API server, through the unpatched kubernetes client."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from reconciler import observe
from reconciler.observe import observe_health
from registry.errors import ClusterError
from tests.fakes.kube import FakeKube
from tests.helpers import entry, kube_source

ENV = "production"
HEALTHY, MISSING, PROGRESSING = "Healthy", "Missing", "Progressing"  # stored and printed as is
FAST = {"backoff": 0.01}  # keep retries quick; the count of attempts is what is tested


def test_fifty_models_in_three_namespaces_take_exactly_six_list_calls(kube: FakeKube):
    namespaces = ("system", "inference", "research")
    entries = [entry(f"model-{i}", namespace=namespaces[i % 3]) for i in range(50)]
    for e in entries[:-1]:
        kube.add_model(e.model_name, ENV, e.namespace)

    health = observe_health(source=kube_source(), entries=entries, context=None)

    assert kube.calls() == Counter(
        {(k, ns): 1 for k in ("deployments", "services") for ns in namespaces}
    )
    assert kube.count() == 6
    assert {m: h.status for m, h in health.items()} == {
        **{e.model_name: HEALTHY for e in entries[:-1]},
        entries[-1].model_name: MISSING,
    }
    assert len({h.checked_at for h in health.values()}) == 1


def test_each_model_gets_its_own_health_and_reason(kube: FakeKube):
    kube.add_model("ready", ENV)
    kube.add_model("rolling", ENV, ready=0)
    kube.add_model("wrong-port", ENV, ports=(80,))

    health = observe_health(
        source=kube_source(), entries=[entry("ready"), entry("rolling"), entry("wrong-port")]
    )

    assert (health["ready"].status, health["ready"].ready_replicas) == (HEALTHY, 1)
    assert (health["rolling"].status, health["rolling"].reason) == (
        PROGRESSING,
        "0 of 1 updated replicas are available",
    )
    assert health["wrong-port"].status == MISSING
    assert "does not expose port 8000" in health["wrong-port"].reason


def test_no_kubeconfig_at_all_means_no_observation(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    assert observe_health(source=kube_source(), entries=[entry("llama-2-7b")]) is None
    assert observe.kubeconfig_status(kube_source()) == (
        "no kubeconfig found (KUBECONFIG names no file that exists)"
    )


def test_configured_cluster_reports_no_status(kube: FakeKube):
    assert observe.kubeconfig_status(kube_source()) is None


def test_context_is_chosen_from_merged_kubeconfigs(tmp_path, monkeypatch):
    prod, staging = FakeKube("prod-cluster"), FakeKube("staging-cluster")
    try:
        paths = [prod.write_kubeconfig(tmp_path / "a"), staging.write_kubeconfig(tmp_path / "b")]
        monkeypatch.setenv("KUBECONFIG", ":".join(map(str, paths)))
        staging.add_model("llama-2-7b", ENV)

        health = observe_health(
            source=kube_source(), entries=[entry("llama-2-7b")], context="staging-cluster"
        )

        assert health["llama-2-7b"].status == HEALTHY
        assert (prod.count(), staging.count()) == (0, 2)
    finally:
        prod.close()
        staging.close()


def test_unknown_context_is_an_error_naming_it(kube: FakeKube):
    with pytest.raises(ClusterError, match="cannot use the kubeconfig context 'nope'"):
        observe_health(source=kube_source(), entries=[entry("llama-2-7b")], context="nope")


def test_unreachable_cluster_names_the_cluster_and_the_refused_verb(kube, tmp_path, monkeypatch):
    dead = kube.write_kubeconfig(tmp_path / "dead", server="http://127.0.0.1:1")
    monkeypatch.setenv("KUBECONFIG", str(dead))

    with pytest.raises(ClusterError) as raised:
        observe_health(source=kube_source(), entries=[entry("llama-2-7b")], **FAST)

    message = str(raised.value)
    assert message.startswith("cannot list deployments in namespace system: ")
    assert "context test-cluster (http://127.0.0.1:1) is unreachable" in message


def test_forbidden_names_the_verb_and_points_at_rbac(kube: FakeKube):
    kube.fail(403, kind="deployments")

    with pytest.raises(ClusterError) as raised:
        observe_health(
            source=kube_source(), entries=[entry("llama-2-7b", namespace="inference")], **FAST
        )

    message = str(raised.value)
    assert message.startswith("cannot list deployments in namespace inference: ")
    assert f"context test-cluster ({kube.url}) forbids it (403: " in message
    assert 'cannot list resource "deployments"' in message
    assert "examples/kubernetes/rbac.yaml" in message
    assert kube.count() == 1  # a refusal is not retried


def test_bad_credentials_are_an_error(kube, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "k", token="expired")))

    with pytest.raises(
        ClusterError, match="did not accept our credentials \\(401: Unauthorized\\)"
    ):
        observe_health(source=kube_source(), entries=[entry("llama-2-7b")], **FAST)


def test_server_error_then_success_is_retried(kube: FakeKube):
    kube.add_model("llama-2-7b", ENV)
    kube.fail(500, times=1, kind="services")

    health = observe_health(source=kube_source(), entries=[entry("llama-2-7b")], **FAST)

    assert health["llama-2-7b"].status == HEALTHY
    assert kube.calls() == Counter({("deployments", "system"): 1, ("services", "system"): 2})


def test_too_many_requests_honours_retry_after(kube: FakeKube):
    kube.add_model("llama-2-7b", ENV)
    kube.fail(429, times=2, retry_after=0)

    assert observe_health(source=kube_source(), entries=[entry("llama-2-7b")], **FAST)[
        "llama-2-7b"
    ].healthy
    assert kube.count() == 4


def test_connection_reset_is_retried(kube: FakeKube):
    kube.add_model("llama-2-7b", ENV)
    kube.fail(0, times=1)

    assert observe_health(source=kube_source(), entries=[entry("llama-2-7b")], **FAST)[
        "llama-2-7b"
    ].healthy
    assert kube.count() == 3


def test_persistent_server_errors_give_up_after_bounded_retries(kube: FakeKube):
    kube.fail(503, times=100)

    with pytest.raises(ClusterError) as raised:
        observe_health(source=kube_source(), entries=[entry("llama-2-7b")], retries=2, **FAST)

    assert "cannot list deployments in namespace system" in str(raised.value)
    assert "answered 503 (Internal error occurred: etcd timeout) 3 times" in str(raised.value)
    assert kube.count() == 3


def test_persistent_resets_give_up(kube: FakeKube):
    kube.fail(0, times=100)

    with pytest.raises(ClusterError, match="was reset 2 times"):
        observe_health(source=kube_source(), entries=[entry("llama-2-7b")], retries=1, **FAST)


def test_a_slow_cluster_times_out_with_a_clear_error(kube: FakeKube):
    kube.delay = 2.0

    with pytest.raises(ClusterError) as raised:
        slow = replace(kube_source(), timeout=0.2)  # the request timeout travels on the source
        observe_health(source=slow, entries=[entry("llama-2-7b")], **FAST)

    assert "cannot list deployments in namespace system" in str(raised.value)
    assert "did not answer within 0.2 s" in str(raised.value)


def test_fake_serves_real_list_json(kube: FakeKube):
    """The fake's answers parse into the client's own models: the JSON is the real shape."""
    from kubernetes import client

    kube.add_model("llama-2-7b", ENV, ready=0)
    api = client.ApiClient(observe.connect(kube_source()).api.configuration)
    deployments = client.AppsV1Api(api).list_namespaced_deployment("system")
    services = client.CoreV1Api(api).list_namespaced_service("system")

    assert deployments.items[0].metadata.name == "llama-2-7b-production"
    assert deployments.items[0].status.ready_replicas is None
    assert services.items[0].spec.ports[0].port == 8000
    assert (deployments.api_version, deployments.kind) == ("apps/v1", "DeploymentList")
    assert (services.api_version, services.kind) == ("v1", "ServiceList")


# --- KUBECONFIG holding a kubeconfig's text (a GitLab variable of type Variable, not File) ---

KUBECONFIG_TEXT = """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
contexts:
- name: prod
  context: {{cluster: prod, user: ci}}
current-context: prod
users:
- name: ci
  user:
    token: {token}
"""
TOKENS = ["st4tic-T0ken-S3cret", "eyJhbGciOiJSUzI1NiJ9." + "S3cretJwtBody" * 70 + ".sig"]


@pytest.mark.parametrize("token", TOKENS, ids=["static-token", "service-account-jwt"])
@pytest.mark.parametrize("variable", ["KUBECONFIG", "REGISTRY_KUBECONFIG"])
def test_a_kubeconfig_s_text_in_kubeconfig_never_shows_its_token(registry, token, variable):
    text = KUBECONFIG_TEXT.format(token=token)
    code, out, err = registry("register", "-m", "llama-2-7b", "-e", ENV, env={variable: text})
    assert "internal error" not in err
    assert "holds a kubeconfig's text, not the path of a file" in err
    assert "S3cret" not in out + err


def test_kubeconfig_status_never_quotes_the_value(tmp_path):
    text = KUBECONFIG_TEXT.format(token="S3cret")
    assert observe.kubeconfig_status(observe.KubeSource(text)) == (
        "no kubeconfig found (KUBECONFIG holds a kubeconfig's text, not the path of a file; "
        "in GitLab CI/CD make it a variable of type File, whose value is a path)"
    )
    # A token alone: too long for a file name (is_file raises OSError), and never shown.
    for value in ("S3cret" * 100, f"{tmp_path}/S3cret"):
        source = observe.KubeSource(value, named_by="--kubeconfig")
        assert observe.kubeconfig_status(source) == (
            "no kubeconfig found (--kubeconfig names no file that exists)"
        )
        assert observe.connect(source) is None
    assert "S3cret" not in repr(observe.KubeSource(text))
