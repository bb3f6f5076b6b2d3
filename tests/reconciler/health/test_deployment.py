"""A Deployment's health, on Kubernetes JSON shaped exactly like the API's answers."""

from __future__ import annotations

import pytest

from reconciler.health import Health
from reconciler.health.deployment import deployment_health
from tests.fakes.kube import deployment

NAME, NS = "llama-2-7b-development", "system"
# The words as stored and printed (a contract): registry.vocabulary.Health must equal them.
HEALTHY, PROGRESSING, DEGRADED = "Healthy", "Progressing", "Degraded"
SUSPENDED, MISSING = "Suspended", "Missing"


def health_of(**fields) -> Health:
    return deployment_health(deployment(NAME, NS, **fields), name=NAME, namespace=NS)


def test_finished_rollout_is_healthy_with_replica_counts():
    assert health_of(replicas=2) == Health(HEALTHY, None, ready_replicas=2, replicas=2)


@pytest.mark.parametrize(
    ("fields", "reason", "ready"),
    [
        ({"ready": 0}, "0 of 1 updated replicas are available", 0),
        ({"replicas": 3, "ready": 1}, "1 of 3 updated replicas are available", 1),
        ({"replicas": 2, "updated": 1}, "1 out of 2 new replicas have been updated", 2),
        ({"replicas": 2, "total": 3}, "1 old replicas are pending termination", 2),
        (
            {"generation": 2, "observed_generation": 1},
            "Waiting for deployment spec update to be observed",
            1,
        ),
    ],
)
def test_rollout_in_progress_is_progressing_with_the_rollout_message(fields, reason, ready):
    health = health_of(**fields)
    assert (health.status, health.reason, health.ready_replicas) == (PROGRESSING, reason, ready)
    assert not health.healthy


def test_progress_deadline_exceeded_is_degraded():
    health = health_of(ready=0, deadline_exceeded=True)
    assert (health.status, health.reason) == (
        DEGRADED,
        f"deployment {NAME} exceeded its progress deadline",
    )


def test_deadline_is_not_judged_before_the_controller_saw_the_new_spec():
    # kubectl and Argo CD only trust status conditions of the observed generation.
    health = health_of(deadline_exceeded=True, generation=3, observed_generation=2)
    assert health.status == PROGRESSING


def test_paused_is_suspended_even_when_the_deadline_passed():
    health = health_of(paused=True, deadline_exceeded=True)
    assert (health.status, health.reason) == (SUSPENDED, f"deployment {NAME} is paused")


def test_scaled_to_zero_is_suspended_because_nothing_serves():
    health = health_of(replicas=0)
    assert (health.status, health.reason) == (
        SUSPENDED,
        f"deployment {NAME} is scaled to 0 replicas",
    )


def test_absent_deployment_is_missing():
    health = deployment_health(None, name=NAME, namespace=NS)
    assert (health.status, health.reason) == (
        MISSING,
        f"deployment {NAME} not found in namespace {NS}",
    )
