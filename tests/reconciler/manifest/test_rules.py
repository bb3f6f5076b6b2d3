"""The rules: the naming convention is one rule, said alike by the manifest and the CLI."""

from __future__ import annotations

import pytest

from reconciler import operator
from reconciler.manifest import Severity, load_text
from registry import names
from registry.errors import InvalidEndpoint

from ...helpers import manifest

OFF_CONVENTION = "gpt-neo-canary.system.svc.cluster.local:9000"


def with_endpoint(endpoint: str) -> str:
    return manifest("production", f"name: gpt-neo, endpoint: '{endpoint}'")


def test_the_manifest_and_register_say_the_same_of_an_off_convention_endpoint():
    loaded, findings = load_text(with_endpoint(OFF_CONVENTION))
    plan = operator.register(
        None, 0, model_name="gpt-neo", environment="production", endpoint=OFF_CONVENTION
    )
    said = names.convention_warning(OFF_CONVENTION, "gpt-neo", "production", "system")
    # The convention at the endpoint's own port: only the Service name differs.
    assert said == (
        f"endpoint {OFF_CONVENTION} differs from the naming convention "
        "(gpt-neo-production.system.svc.cluster.local:9000)"
    )
    assert loaded is not None
    assert [(f.severity, f.rule, f.message) for f in findings] == [
        (Severity.WARNING, "endpoint-convention", said)
    ]
    assert plan.warnings == (f"{said}; registering it as given",)


def test_the_convention_at_another_port_is_no_warning():
    endpoint = "gpt-neo-production.system.svc.cluster.local:9000"
    assert names.convention_warning(endpoint, "gpt-neo", "production", "system") is None
    assert load_text(with_endpoint(endpoint))[1] == ()
    plan = operator.register(
        None, 0, model_name="gpt-neo", environment="production", endpoint=endpoint
    )
    assert plan.warnings == ()


def test_an_endpoint_the_policy_refuses_is_an_error_not_a_convention_warning():
    endpoint = "http://evil.example.com:80"
    with pytest.raises(InvalidEndpoint):
        names.convention_warning(endpoint, "gpt-neo", "production", "system")
    loaded, findings = load_text(with_endpoint(endpoint))
    assert loaded is None
    assert [(f.severity, f.rule) for f in findings] == [(Severity.ERROR, "endpoint")]
    assert findings[0].message.startswith(f"invalid endpoint '{endpoint}'")


def test_with_an_invalid_name_only_the_endpoint_policy_is_checked():
    text = manifest("production", f"name: Gpt_Neo, endpoint: '{OFF_CONVENTION}'")
    _, findings = load_text(text)
    assert [f.rule for f in findings] == ["name"]  # no convention for a name that is none


def test_a_model_listed_twice_names_both_lines():
    _, findings = load_text(manifest("production", "gpt-neo", "llama", "gpt-neo"))
    assert [(f.line, f.rule, f.message) for f in findings] == [
        (
            10,
            "duplicate-model",
            "model 'gpt-neo' is listed twice, at lines 8 and 10: list each model once",
        )
    ]


def test_a_file_that_is_no_manifest_gets_one_finding_that_quotes_nothing():
    _, findings = load_text("password: hunter2\nuser: root\n")
    assert [(f.line, f.rule, f.message) for f in findings] == [
        (
            1,
            "schema",
            "not a ModelRegistry manifest: it has none of the keys apiVersion, kind, "
            "metadata, spec (its content is not shown)",
        )
    ]
