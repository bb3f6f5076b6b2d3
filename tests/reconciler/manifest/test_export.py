"""Export: the registry written as a manifest that loads back to the same entries."""

from __future__ import annotations

from reconciler.manifest import export_text, load_text
from registry.entry import Entry
from registry.names import convention_endpoint
from tests import helpers


def entry(name: str, namespace: str = "team", port: int = 9000, **fields) -> Entry:
    """A manifest-managed entry of staging, by default at the convention's endpoint."""
    fields.setdefault("endpoint", convention_endpoint(name, "staging", namespace, port))
    return helpers.entry(name, "staging", namespace=namespace, managed_by="manifest", **fields)


def test_the_export_loads_back_to_the_same_entries():
    entries = [
        entry("b"),
        entry("a", status="disabled"),
        entry("c", namespace="other"),
        entry("d", port=8000),
        entry("e", endpoint="somewhere-else.team.svc.cluster.local:9000"),
    ]
    text = export_text("staging", entries, revision=7)
    manifest, findings = load_text(text, "staging.yaml")
    assert [f.rule for f in findings] == ["endpoint-convention"]  # e's, said as a warning
    assert (manifest.namespace, manifest.port, manifest.prune) == ("team", 9000, False)
    assert manifest.desired_entries() == sorted(entries, key=lambda e: e.model_name)


def test_the_most_common_namespace_and_port_become_the_defaults():
    text = export_text("staging", [entry("a"), entry("b"), entry("c", "x", 1)], revision=3)
    assert text.startswith('# Exported from the registry: environment "staging" at revision 3.\n')
    assert "  namespace: team\n  port: 9000\n" in text
    models = "    - name: a\n    - name: b\n    - name: c\n      namespace: x\n      endpoint:"
    assert models in text


def test_an_empty_registry_exports_the_defaults():
    text = export_text("staging", [], revision=0)
    manifest, findings = load_text(text)
    assert findings == ()
    assert (manifest.namespace, manifest.port, manifest.models) == ("system", 8000, ())


def test_a_row_from_before_the_endpoint_policy_is_kept_explicit():
    old = entry("a", endpoint="http://10.0.0.1:8000")
    text = export_text("staging", [old, entry("b")], revision=1)
    assert "    endpoint: http://10.0.0.1:8000\n" in text
    assert "  port: 9000\n" in text  # the refused endpoint's port does not count
