"""Pure rules: names, the endpoint policy, and how a change is classified."""

from functools import partial

import pytest

from reconciler import operator
from reconciler.plan import Plan, change_for
from registry import names
from registry.errors import InvalidEndpoint, InvalidName, ModelNotFound
from tests.helpers import HOSTILE_ENDPOINTS, MODEL, entry


@pytest.mark.parametrize("name", ["llama-2-7b", "gpt-neo", "a", "m7"])
def test_valid_model_names(name):
    assert names.check_model_name(name, "production") == name


@pytest.mark.parametrize("name", ["Llama", "7b-model", "model-", "", "under_score", "dot.name"])
def test_invalid_model_names(name):
    with pytest.raises(InvalidName, match="DNS-1035"):
        names.check_model_name(name)


def test_service_name_must_fit_63_characters():
    name = "m" * 52  # 52 + len("-production") = 63 fits
    assert names.check_model_name(name, "production")
    with pytest.raises(InvalidName, match="64 characters, at most 63"):
        names.check_model_name(name + "x", "production")


@pytest.mark.parametrize("name", ["vllm-model-registry-controller", "a", "leases.example.com"])
def test_valid_object_names(name):
    assert names.check_object_name(name, "lease name") == name


@pytest.mark.parametrize(
    "name", ["", "Upper", "../x", "a/b", "a..b", ".a", "a.", "a b", "\u0430", "a" * 254]
)
def test_invalid_object_names(name):
    with pytest.raises(InvalidName, match="invalid lease name .*: a Kubernetes object name"):
        names.check_object_name(name, "lease name")


def test_convention_endpoint():
    assert (
        names.convention_endpoint("mistral-7b", "staging", "inference")
        == "mistral-7b-staging.inference.svc.cluster.local:8000"
    )


@pytest.mark.parametrize("endpoint", HOSTILE_ENDPOINTS)
def test_endpoint_policy_refuses(endpoint):
    with pytest.raises(InvalidEndpoint, match="an endpoint must be an in-cluster Service"):
        names.parse_endpoint(endpoint)


@pytest.mark.parametrize(
    ("endpoint", "port"),
    [
        ("llama-2-7b-production.system.svc.cluster.local:8000", 8000),
        (f"{'a' * 63}.{'b' * 63}.svc.cluster.local:65535", 65535),
        ("0.1.svc.cluster.local:1", 1),
    ],
)
def test_endpoint_policy_accepts(endpoint, port):
    assert names.parse_endpoint(endpoint) == (endpoint.rpartition(":")[0], port)


llama = partial(entry, MODEL, "development")  # an entry of llama-2-7b in development


@pytest.mark.parametrize(
    ("before", "after", "action"),
    [
        (None, llama(), "create"),
        (llama(), llama(status="disabled"), "disable"),
        (llama(status="disabled"), llama(), "enable"),
        (llama(status="disabled", deregistered=True), llama(), "enable"),
        (llama(), llama(status="disabled", deregistered=True), "deregister"),
        (llama(), llama(endpoint="other.system.svc.cluster.local:8000"), "update"),
        (llama(status="disabled"), llama(namespace="inference"), "update"),
    ],
)
def test_change_classification(before, after, action):
    assert change_for(before, after).action == action


def test_no_change_ignores_bookkeeping_fields():
    assert change_for(llama(id=1, health="Healthy"), llama(id=None, health="Unknown")) is None


def test_update_lists_field_differences():
    change = change_for(llama(), llama(endpoint="x.system.svc.cluster.local:9000"))
    assert [(f.name, f.old, f.new) for f in change.fields] == [
        ("endpoint", llama().endpoint, "x.system.svc.cluster.local:9000")
    ]


def test_plan_round_trips_through_json_dict():
    plan = operator.register(None, 3, model_name="gpt-neo", environment="production")
    again = Plan.from_dict(plan.to_dict())
    assert again == plan
    assert plan.to_dict()["summary"] == {
        "create": 1,
        "update": 0,
        "enable": 0,
        "disable": 0,
        "deregister": 0,
        "unchanged": 0,
    }


def test_register_defaults_to_the_naming_convention():
    plan = operator.register(None, 0, model_name="gpt-neo", environment="production")
    assert plan.changes[0].after.endpoint == "gpt-neo-production.system.svc.cluster.local:8000"
    assert plan.warnings == ()


def test_register_off_convention_endpoint_warns():
    plan = operator.register(
        None,
        0,
        model_name="gpt-neo",
        environment="production",
        endpoint="gpt.system.svc.cluster.local:8000",
    )
    assert plan.has_changes
    assert "differs from the naming convention" in plan.warnings[0]


def test_register_same_values_is_a_no_op():
    current = llama(managed_by="cli")
    plan = operator.register(current, 5, model_name="llama-2-7b", environment="development")
    assert not plan.has_changes and plan.unchanged == 1


def test_status_change_of_unknown_model():
    with pytest.raises(ModelNotFound, match="^model not found in registry: ghost$"):
        operator.set_status(None, 0, model_name="ghost", environment="development", action="enable")
