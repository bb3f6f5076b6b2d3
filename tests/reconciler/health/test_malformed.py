"""A field of the wrong JSON type is health Unknown naming the field (never its value,
which may be huge), for both rules, and also once the controller's informer projected it."""

from __future__ import annotations

import pytest

from reconciler.controller.informer import project
from reconciler.health import model_health
from registry import vocabulary
from tests.fakes.kube import deployment, service
from tests.helpers import replaced

NAME, NS = "llama-2-7b-production", "system"
HUGE = "x" * 100_000


@pytest.mark.parametrize(
    ("kind", "path", "value", "field"),
    [
        ("deployments", ("spec", "replicas"), HUGE, "spec.replicas"),
        ("deployments", ("spec", "replicas"), True, "spec.replicas"),
        ("deployments", ("status", "conditions"), HUGE, "status.conditions"),
        ("deployments", ("status", "conditions", 0), HUGE, "status.conditions[0]"),
        ("deployments", ("status",), [HUGE], "status"),
        ("services", ("spec", "ports"), HUGE, "spec.ports"),
        ("services", ("spec", "ports", 0), HUGE, "spec.ports[0]"),
        ("services", ("spec", "ports", 0, "port"), "8000", "spec.ports[0].port"),
    ],
)
@pytest.mark.parametrize("projected", [False, True], ids=["listed", "informer"])
def test_a_field_of_the_wrong_type_is_unknown_naming_the_field(kind, path, value, field, projected):
    objects = {"deployments": deployment(NAME, NS), "services": service(NAME, NS)}
    objects[kind] = replaced(objects[kind], path, value)
    if projected:
        objects = {k: project(k, obj) for k, obj in objects.items()}
    seen = model_health(
        objects["deployments"], objects["services"], name=NAME, namespace=NS, port=8000
    )
    assert seen.status == vocabulary.Health.UNKNOWN
    assert f"its {field} has the wrong JSON type" in seen.reason
    assert len(seen.reason) < 200


def test_a_condition_field_of_the_wrong_type_is_named_with_its_index():
    # Listed objects only: the informer keeps the Progressing condition alone, renumbered.
    seen = model_health(
        replaced(deployment(NAME, NS), ("status", "conditions", 1, "reason"), 7),
        service(NAME, NS),
        name=NAME,
        namespace=NS,
        port=8000,
    )
    assert seen.status == vocabulary.Health.UNKNOWN
    assert "its status.conditions[1].reason has the wrong JSON type" in seen.reason


def test_null_sections_read_as_absent_ones():
    seen = model_health(
        {"spec": None, "status": None}, service(NAME, NS), name=NAME, namespace=NS, port=8000
    )
    assert (seen.status, seen.reason) == (
        vocabulary.Health.PROGRESSING,
        "0 out of 1 new replicas have been updated",
    )
