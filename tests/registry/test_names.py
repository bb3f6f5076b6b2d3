"""Pure rules: names, the endpoint policy, and how a change is classified."""

import pytest

from reconciler import operator
from reconciler.plan import Plan, change_for
from registry import names
from registry.entry import Entry
from registry.errors import InvalidEndpoint, InvalidName, ModelNotFound


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


def test_convention_endpoint():
    assert (
        names.convention_endpoint("mistral-7b", "staging", "inference")
        == "mistral-7b-staging.inference.svc.cluster.local:8000"
    )


# Every endpoint of issue 11 that the old suffix test let through, and syntax mistakes.
HOSTILE_ENDPOINTS = [
    "evil.com:80/x.svc.cluster.local:8000",
    "http://evil.com/.svc.cluster.local:8000",
    "user@evil.com/.svc.cluster.local:8000",
    "evil.com#.svc.cluster.local:8000",
    "evil.com?.svc.cluster.local:8000",
    "10.0.0.1 .svc.cluster.local:8000",
    ".svc.cluster.local:80",
    "\u0430.svc.cluster.local:80",  # Cyrillic a
    "a.b.svc.cluster.local:\u0668\u0660",  # Arabic-Indic 80
    "a.b.svc.cluster.local:\uff11\uff12\uff13",  # full-width 123
    "=cmd|x.svc.cluster.local:80",
    "a.b.svc.cluster.local:8000.0",
    "evil.example.com:8000",
    "x.svc.cluster.local:80",  # one label: the namespace is missing
    "a.b.c.svc.cluster.local:80",  # three labels
    "a.b.svc.cluster.local",
    "a.b.svc.cluster.local:0",
    "a.b.svc.cluster.local:65536",
    "a.b.svc.cluster.local:08000",
    "a.b.svc.cluster.local:+80",
    "a.b.svc.cluster.local:80\n",
    "A.b.svc.cluster.local:80",
    "-a.b.svc.cluster.local:80",
    f"{'a' * 64}.b.svc.cluster.local:80",
    ":80",
    "",
]


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


def entry(**fields):
    base = dict(
        model_name="llama-2-7b",
        environment="development",
        namespace="system",
        endpoint="llama-2-7b-development.system.svc.cluster.local:8000",
    )
    return Entry(**{**base, **fields})


@pytest.mark.parametrize(
    ("before", "after", "action"),
    [
        (None, entry(), "create"),
        (entry(), entry(status="disabled"), "disable"),
        (entry(status="disabled"), entry(), "enable"),
        (entry(status="disabled", deregistered=True), entry(), "enable"),
        (entry(), entry(status="disabled", deregistered=True), "deregister"),
        (entry(), entry(endpoint="other.system.svc.cluster.local:8000"), "update"),
        (entry(status="disabled"), entry(namespace="inference"), "update"),
    ],
)
def test_change_classification(before, after, action):
    assert change_for(before, after).action == action


def test_no_change_ignores_bookkeeping_fields():
    assert change_for(entry(id=1, health="Healthy"), entry(id=None, health="Unknown")) is None


def test_update_lists_field_differences():
    change = change_for(entry(), entry(endpoint="x.system.svc.cluster.local:9000"))
    assert [(f.name, f.old, f.new) for f in change.fields] == [
        ("endpoint", entry().endpoint, "x.system.svc.cluster.local:9000")
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
    current = entry(managed_by="cli")
    plan = operator.register(current, 5, model_name="llama-2-7b", environment="development")
    assert not plan.has_changes and plan.unchanged == 1


def test_status_change_of_unknown_model():
    with pytest.raises(ModelNotFound, match="^model not found in registry: ghost$"):
        operator.set_status(None, 0, model_name="ghost", environment="development", action="enable")
