"""A Deployment as a hostile or broken API server (or an aggregated API in front of it)
may serve it: fields of the wrong JSON type are a health verdict, not an internal error
of `registry health`, `plan` and `apply`."""

from __future__ import annotations

import pytest

from reconciler.health import Health, model_health
from registry import vocabulary
from tests.fakes.kube import deployment, service
from tests.helpers import replaced

NAME, NAMESPACE = "llama-2-7b-production", "system"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "replicas"), "=1+1"),
        (("spec", "replicas"), None),
        (("status", "updatedReplicas"), "1"),
        (("status", "conditions"), "Progressing"),
        (("status", "conditions"), ["Progressing"]),
        (("metadata", "generation"), "2"),
        (("status",), ["not", "a", "mapping"]),
    ],
)
def test_a_field_of_the_wrong_type_is_a_verdict(path, value):
    seen = model_health(
        replaced(deployment(NAME, NAMESPACE), path, value),
        service(NAME, NAMESPACE),
        name=NAME,
        namespace=NAMESPACE,
        port=8000,
    )
    assert isinstance(seen, Health)
    assert seen.status != vocabulary.Health.HEALTHY
