"""The rules: the naming convention is one rule, said alike by the manifest and the CLI."""

from __future__ import annotations

import pytest

from reconciler import operator
from reconciler.manifest import Severity, load_text
from registry import names
from registry.errors import InvalidEndpoint
from tests.helpers import MANIFEST_HEAD as HEAD
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import findings, manifest
from tests.helpers import only_finding as only

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


def test_model_name_must_be_a_dns_1035_label():
    line, column, severity, message = only(HEAD + "    - name: Llama_2\n")
    assert (line, column, severity) == (7, 13, "error")
    assert message.startswith("invalid model name 'Llama_2'")
    assert "DNS-1035" in message


def test_model_name_may_not_start_with_a_digit():
    assert only(HEAD + "    - name: 7b-llama\n")[:2] == (7, 13)


def test_service_name_must_fit_in_63_characters():
    name = "m" * 53  # + "-production" = 64
    line, column, _, message = only(HEAD + f"    - name: {name}\n")
    assert (line, column) == (7, 13)
    assert "has 64 characters, at most 63 allowed" in message
    assert findings(HEAD + f"    - name: {name[:-1]}\n") == []


def test_invalid_environment_and_namespace():
    text = VALID.replace("environment: production", "environment: Prod").replace(
        "      namespace: inference", "      namespace: Inference"
    )
    found = findings(text)
    assert [(line, column) for line, column, _, _ in found] == [(4, 16), (15, 18)]
    assert found[0][3].startswith("invalid environment 'Prod'")
    assert found[1][3].startswith("invalid namespace 'Inference'")


def test_duplicate_model_names_name_both_lines():
    text = VALID + "    - name: llama-2-7b\n"
    assert only(text) == (
        19,
        13,
        "error",
        "model 'llama-2-7b' is listed twice, at lines 12 and 19: list each model once",
    )


def test_endpoint_outside_the_cluster_is_an_error():
    text = VALID.replace(
        "gpt-neo-production.system.svc.cluster.local:8000", "gpt-neo.example.com:8000"
    )
    line, column, severity, message = only(text)
    assert (line, column, severity) == (18, 17, "error")
    assert message.startswith(
        "invalid endpoint 'gpt-neo.example.com:8000': an endpoint must be an in-cluster Service"
    )


@pytest.mark.parametrize(
    "endpoint", ["no-port.svc.cluster.local", "a.svc.cluster.local:0", "x:99999"]
)
def test_endpoint_needs_host_and_port(endpoint):
    text = VALID.replace("gpt-neo-production.system.svc.cluster.local:8000", endpoint)
    line, column, severity, message = only(text)
    assert (line, column, severity) == (18, 17, "error")
    assert "a port from 1 to 65535 in ASCII digits" in message


def test_endpoint_off_the_naming_convention_is_a_warning():
    text = VALID.replace(
        "gpt-neo-production.system.svc.cluster.local:8000",
        "gpt-neo-canary.system.svc.cluster.local:8000",
    )
    manifest, found = load_text(text, "m.yaml")
    assert [(f.line, f.column, f.severity, f.rule) for f in found] == [
        (18, 17, "warning", "endpoint-convention")
    ]
    assert found[0].message == (
        "endpoint gpt-neo-canary.system.svc.cluster.local:8000 differs from the naming "
        "convention (gpt-neo-production.system.svc.cluster.local:8000)"
    )
    assert manifest is not None  # warnings do not make a manifest invalid
    assert manifest.models[2].endpoint == "gpt-neo-canary.system.svc.cluster.local:8000"
