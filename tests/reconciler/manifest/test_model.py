"""The model: a manifest's desired entries."""

from __future__ import annotations

from reconciler.manifest import Manifest, ModelSpec
from reconciler.manifest.model import build
from registry.entry import Entry

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
