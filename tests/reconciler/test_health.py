"""A model's health (reconciler/health): its Deployment's and its Service's together."""

from __future__ import annotations

from reconciler.health import Health, model_health
from tests.fakes.kube import deployment, service

NAME, NS = "llama-2-7b-development", "system"
# The words as stored and printed (a contract): registry.vocabulary.Health must equal them.
HEALTHY, PROGRESSING, MISSING = "Healthy", "Progressing", "Missing"


def test_model_is_healthy_only_with_both_deployment_and_service():
    ok = model_health(deployment(NAME, NS), service(NAME, NS), name=NAME, namespace=NS, port=8000)
    assert ok == Health(HEALTHY, None, 1, 1)


def test_missing_service_behind_a_healthy_deployment_keeps_the_replica_counts():
    health = model_health(deployment(NAME, NS), None, name=NAME, namespace=NS, port=8000)
    assert health == Health(MISSING, f"service {NAME} not found in namespace {NS}", 1, 1)


def test_unhealthy_deployment_is_reported_before_the_service():
    health = model_health(deployment(NAME, NS, ready=0), None, name=NAME, namespace=NS, port=8000)
    assert (health.status, health.reason) == (PROGRESSING, "0 of 1 updated replicas are available")
