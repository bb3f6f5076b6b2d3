"""The model: a manifest's desired entries."""

from __future__ import annotations

from reconciler.manifest import Manifest, ModelSpec, load_text
from reconciler.manifest.model import build
from registry.entry import Entry
from tests.helpers import MANIFEST_HEAD as HEAD
from tests.helpers import VALID_MANIFEST as VALID

ENDPOINT = "a-production.system.svc.cluster.local:8000"


def test_a_model_asks_for_a_manifest_managed_entry():
    spec = ModelSpec("a", "system", ENDPOINT, enabled=False)
    assert spec.entry("production") == Entry(
        "a", "production", "system", ENDPOINT, status="disabled", managed_by="manifest"
    )
    manifest = Manifest("production", models=(spec, ModelSpec("b", "ns", "b.ns:1")))
    assert [(e.model_name, e.status) for e in manifest.desired_entries()] == [
        ("a", "disabled"),
        ("b", "ready"),
    ]


def test_build_applies_the_defaults_and_the_naming_convention():
    data = {
        "metadata": {"environment": "production"},
        "spec": {
            "namespace": "team",
            "port": 9000,
            "kube": {"context": "prod"},
            "models": [{"name": "a"}, {"name": "b", "namespace": "other", "endpoint": ENDPOINT}],
        },
    }
    manifest = build(data, "p.yaml", lambda path: (7, path[-1] + 1))
    assert manifest == Manifest(
        environment="production",
        namespace="team",
        port=9000,
        kube_context="prod",
        models=(
            ModelSpec("a", "team", "a-production.team.svc.cluster.local:9000", line=7, column=1),
            ModelSpec("b", "other", ENDPOINT, explicit_endpoint=True, line=7, column=2),
        ),
        path="p.yaml",
    )


def test_valid_manifest_with_defaults_and_overrides():
    manifest, found = load_text(VALID, "prod.yaml")
    assert found == ()
    assert manifest == Manifest(
        environment="production",
        namespace="system",
        port=8000,
        prune=False,
        kube_context="prod-cluster",
        path="prod.yaml",
        models=(
            ModelSpec(
                "llama-2-7b",
                "system",
                "llama-2-7b-production.system.svc.cluster.local:8000",
                True,
                False,
                12,
                7,
            ),
            ModelSpec(
                "mistral-7b",
                "inference",
                "mistral-7b-production.inference.svc.cluster.local:8000",
                False,
                False,
                14,
                7,
            ),
            ModelSpec(
                "gpt-neo",
                "system",
                "gpt-neo-production.system.svc.cluster.local:8000",
                True,
                True,
                17,
                7,
            ),
        ),
    )


def test_desired_entries():
    manifest, _ = load_text(VALID)
    assert manifest.desired_entries() == [
        Entry(
            "llama-2-7b",
            "production",
            "system",
            "llama-2-7b-production.system.svc.cluster.local:8000",
            status="ready",
            managed_by="manifest",
        ),
        Entry(
            "mistral-7b",
            "production",
            "inference",
            "mistral-7b-production.inference.svc.cluster.local:8000",
            status="disabled",
            managed_by="manifest",
        ),
        Entry(
            "gpt-neo",
            "production",
            "system",
            "gpt-neo-production.system.svc.cluster.local:8000",
            status="ready",
            managed_by="manifest",
        ),
    ]


def test_spec_defaults():
    manifest, found = load_text(HEAD + "    - name: llama-2-7b\n")
    assert found == ()
    assert (manifest.namespace, manifest.port, manifest.prune, manifest.kube_context) == (
        "system",
        8000,
        False,
        None,
    )


def test_port_changes_the_conventional_endpoint():
    text = HEAD.replace("spec:\n", "spec:\n  port: 9000\n") + "    - name: gpt-neo\n"
    manifest, _ = load_text(text)
    assert manifest.models[0].endpoint == "gpt-neo-production.system.svc.cluster.local:9000"
