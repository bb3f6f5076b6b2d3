"""One model's endpoint must not stop the controller for the rest of its environment."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from tests.fakes.kube import QuietHandler, send
from tests.helpers import applied, manifest_file
from tests.reconciler.controller import test_loop
from tests.reconciler.controller.test_loop import ENV, becomes, deploy, status, unhealthy

# test_loop's fixtures: a `registry controller` subprocess against this test's servers
env, start = test_loop.env, test_loop.start


@pytest.mark.parametrize("served_id", ["\x00", "\udcff"], ids=["nul", "lone-surrogate"])
def test_an_id_that_cannot_be_stored_does_not_stop_other_transitions(
    cli, conn, kube, vllm, start, tmp_path, served_id
):
    deploy(kube, vllm, "llama-2-7b")
    hostile = deploy(kube, vllm, "mistral-7b")
    hostile.models = [served_id]  # its verdict becomes the pending reason of mistral-7b
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    controller = start()
    controller.wait_log("mistral-7b: probe: endpoint serves")
    unhealthy(kube, "llama-2-7b")
    becomes(conn, "llama-2-7b", "pending")
    becomes(conn, "mistral-7b", "pending")
    assert "reconcile failed" not in controller.log()


def test_a_served_id_reaches_the_log_escaped(cli, conn, kube, vllm, start, tmp_path):
    hostile = deploy(kube, vllm, "mistral-7b")
    hostile.models = ["\x1b]0;owned\x07", "x\n2026-01-01 00:00:00,000 ERROR forged"]
    applied(cli, manifest_file(tmp_path, ENV, "mistral-7b"))
    controller = start()
    controller.wait_log("mistral-7b: probe: endpoint serves")
    becomes(conn, "mistral-7b", "pending")
    log = controller.log()
    assert "\x1b" not in log and "\x07" not in log
    assert not any(line.startswith("2026-01-01") for line in log.splitlines())  # no forged line
    assert "\\x1b]0;owned\\x07" in log


def test_direct_probes_from_outside_the_cluster_unroute_nothing(
    cli, conn, kube, vllm, start, tmp_path
):
    """REGISTRY_PROBE_VIA=direct copied from the controller's Deployment into a shell with
    a kubeconfig: no Service name resolves out here, which says nothing about the
    endpoints, yet each verdict was conclusive and every entry was unrouted."""
    for model in ("llama-2-7b", "mistral-7b"):
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    controller = start(extra_env={"REGISTRY_PROBE_VIA": "direct"})
    try:
        controller.wait_log("probe: endpoint's host name does not resolve")
    except AssertionError:
        assert controller.process.poll() == 1  # refused at the door: as good
        return
    unhealthy(kube, "llama-2-7b")  # a real change, so that a cycle is sure to run
    becomes(conn, "llama-2-7b", "pending")
    assert status(conn, "mistral-7b") == "ready"


def test_a_deeply_nested_answer_does_not_stop_the_probes_of_others(
    cli, conn, kube, vllm, start, tmp_path
):
    deploy(kube, vllm, "llama-2-7b")
    with _raw_server(b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") as url:
        kube.set_backend(f"llama-2-7b-{ENV}", "system", url)
        other = deploy(kube, vllm, "mistral-7b")
        applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
        controller = start()
        controller.wait_log("llama-2-7b: probe: ")
        other.models = ["something-else"]  # mistral-7b's next probe fails: it must be seen
        becomes(conn, "mistral-7b", "pending")
    assert "Traceback" not in controller.log()


@contextlib.contextmanager
def _raw_server(body: bytes) -> Iterator[str]:
    """An HTTP server answering ``body`` (bytes as they are) to every GET."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            send(self, 200, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
