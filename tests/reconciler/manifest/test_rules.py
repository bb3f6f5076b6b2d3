"""The rules beyond the schema: names, duplicates and the endpoint policy, with locations."""

from __future__ import annotations

import pytest

from reconciler.manifest import load_text
from tests.helpers import MANIFEST_HEAD as HEAD
from tests.helpers import VALID_MANIFEST as VALID
from tests.helpers import findings
from tests.helpers import only_finding as only

# --- names -----------------------------------------------------------------------------------


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


# --- endpoints -------------------------------------------------------------------------------


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
