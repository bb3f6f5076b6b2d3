"""The controller's metrics server: scraped over HTTP and parsed with prometheus_client's parser."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from reconciler.controller.metrics import Metrics, MetricsServer
from registry.errors import MetricsError
from tests.helpers import http_get

ENV = "production"


@pytest.fixture
def readiness() -> dict:
    return {"ready": False, "reason": "caches not synced yet"}


@pytest.fixture
def served(readiness: dict) -> Iterator[tuple[Metrics, MetricsServer]]:
    metrics = Metrics()
    server = MetricsServer(
        metrics, lambda: (readiness["ready"], readiness["reason"]), host="127.0.0.1", port=0
    ).start()
    yield metrics, server
    server.close()


def fetch(server: MetricsServer, path: str) -> tuple[int, str, str]:
    return http_get(f"http://127.0.0.1:{server.port}{path}")


def scrape(server: MetricsServer) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}, through the official parser."""
    from prometheus_client.parser import text_string_to_metric_families

    status, text, content_type = fetch(server, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_every_series_moves_as_the_controller_reports(served):
    metrics, server = served
    before = scrape(server)

    metrics.entries(ENV, {"ready": 9, "pending": 1})
    metrics.transition(ENV, "ready", "pending")
    metrics.transition(ENV, "ready", "pending")
    metrics.probe_failed(ENV)
    metrics.watch_restarted("deployments")
    with metrics.reconciling():
        pass
    metrics.observed(ENV, at=1_700_000_000.5)
    metrics.leader(True)
    after = scrape(server)

    assert before[("registry_leader", ())] == 0
    assert after[("registry_entries", (("environment", ENV), ("status", "ready")))] == 9
    assert after[("registry_entries", (("environment", ENV), ("status", "pending")))] == 1
    assert after[("registry_entries", (("environment", ENV), ("status", "disabled")))] == 0
    transitions = (("environment", ENV), ("from_status", "ready"), ("to_status", "pending"))
    assert after[("registry_health_transitions_total", transitions)] == 2
    assert after[("registry_probe_failures_total", (("environment", ENV),))] == 1
    assert after[("registry_kube_watch_restarts_total", (("kind", "deployments"),))] == 1
    assert after[("registry_reconcile_duration_seconds_count", ())] == 1
    observed = ("registry_last_observation_timestamp_seconds", (("environment", ENV),))
    assert after[observed] == 1_700_000_000.5
    assert after[("registry_leader", ())] == 1
    assert not any(name.endswith("_created") for name, _ in after)


def test_a_status_that_empties_reads_zero_not_its_old_count(served):
    metrics, server = served
    metrics.entries(ENV, {"pending": 3})
    metrics.entries(ENV, {"ready": 3})

    assert scrape(server)[("registry_entries", (("environment", ENV), ("status", "pending")))] == 0


def test_two_controllers_in_one_process_do_not_share_series(served):
    metrics, server = served
    Metrics().leader(True)  # a private registry: no "Duplicated timeseries" and no leak

    assert scrape(server)[("registry_leader", ())] == 0


def test_healthz_answers_while_the_process_serves(served):
    _, server = served

    assert fetch(server, "/healthz")[:2] == (200, "ok\n")


def test_readyz_follows_the_readiness_check_with_its_reason(served, readiness):
    _, server = served

    assert fetch(server, "/readyz")[:2] == (503, "caches not synced yet\n")
    readiness.update(ready=True, reason="caches synced, database reachable")
    assert fetch(server, "/readyz")[:2] == (200, "caches synced, database reachable\n")


def test_a_readiness_check_that_raises_is_not_ready(readiness):
    def broken() -> tuple[bool, str]:
        raise ConnectionError("database unreachable")

    server = MetricsServer(Metrics(), broken, host="127.0.0.1", port=0).start()
    try:
        assert fetch(server, "/readyz")[:2] == (
            503,
            "readiness check failed: database unreachable\n",
        )
        assert fetch(server, "/healthz")[0] == 200  # the process itself is alive
    finally:
        server.close()


def test_unknown_paths_are_404(served):
    _, server = served

    status, body, _ = fetch(server, "/debug/pprof")

    assert status == 404 and "/metrics" in body


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(MetricsError) as refused:
            MetricsServer(Metrics(), lambda: (True, ""), host="127.0.0.1", port=port).start()

    assert str(refused.value) == (
        f"cannot serve metrics on 127.0.0.1:{port} (Address already in use). "
        "Pass a free port with --metrics-port"
    )


def test_importing_the_module_does_not_import_prometheus_client():
    probe = "import sys, reconciler.controller.metrics; print('prometheus_client' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
