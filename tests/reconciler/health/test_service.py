"""A Service's health: it must expose the endpoint's port (Kubernetes JSON as the API sends it)."""

from __future__ import annotations

from reconciler.health.service import service_health
from tests.fakes.kube import service

NAME, NS = "llama-2-7b-development", "system"
MISSING = "Missing"  # the word as stored and printed (a contract)


def test_service_exposing_the_port_is_healthy():
    obj = service(NAME, NS, ports=(9090, 8000))
    assert service_health(obj, name=NAME, namespace=NS, port=8000).healthy


def test_absent_service_is_missing():
    health = service_health(None, name=NAME, namespace=NS, port=8000)
    assert (health.status, health.reason) == (
        MISSING,
        f"service {NAME} not found in namespace {NS}",
    )


def test_service_without_the_endpoint_port_is_missing_and_lists_its_ports():
    health = service_health(service(NAME, NS, ports=(80, 443)), name=NAME, namespace=NS, port=8000)
    assert (health.status, health.reason) == (
        MISSING,
        f"service {NAME} in namespace {NS} does not expose port 8000 (exposed: 80, 443)",
    )
