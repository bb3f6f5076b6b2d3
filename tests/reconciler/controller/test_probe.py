"""Prober against a real fake vLLM server, directly (the proxy path is in test_loop)."""

from __future__ import annotations

import socket

import pytest

from reconciler.controller.probe import Prober, served
from registry.entry import Entry
from tests.fakes.vllm import FakeVLLM


@pytest.fixture
def server(vllm) -> FakeVLLM:
    return vllm("llama-2-7b")


def probe(server_or_port, *, api_key: str | None = None, model: str = "llama-2-7b"):
    port = server_or_port if isinstance(server_or_port, int) else server_or_port.url.rsplit(":")[-1]
    prober = Prober(via="direct", cluster=None, timeout=0.5, api_key=api_key)
    try:
        return prober.probe(Entry(model, "production", "system", f"127.0.0.1:{port}"))
    finally:
        prober.close()


def test_the_served_model_verifies(server):
    assert probe(server).ok


def test_another_model_is_named(server):
    server.models = ["llama-3-8b", "mistral-7b"]
    verdict = probe(server)
    assert (verdict.reason, verdict.conclusive) == (
        "endpoint serves [llama-3-8b, mistral-7b], not llama-2-7b",
        True,
    )


def test_a_slow_endpoint_times_out(server):
    server.delay = 2
    assert probe(server).reason == "endpoint did not answer in 0.5 s"


def test_an_error_status_is_a_failure(server):
    server.status = 500
    assert probe(server).reason == "endpoint answered 500 to GET /v1/models"


def test_the_api_key_is_sent_and_a_refusal_moves_nothing(server):
    server.api_key = "s3cret"
    refused = probe(server)
    assert not refused.conclusive and "401" in refused.reason
    assert probe(server, api_key="s3cret").ok


def test_a_closed_port_is_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    verdict = probe(port)
    assert (verdict.reason, verdict.conclusive) == ("endpoint refused the connection", True)


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"data": [{"name": "x"}]}', b"[]"])
def test_an_answer_not_in_the_openai_format_is_said(body):
    assert served(body, "llama-2-7b") == (
        "endpoint did not answer GET /v1/models in the OpenAI format"
    )


def test_a_name_that_does_not_resolve_is_said():
    prober = Prober(via="direct", cluster=None, timeout=0.5)
    try:
        entry = Entry("llama-2-7b", "production", "system", "no-such-host.invalid:8000")
        assert prober.probe(entry).reason == "endpoint's host name does not resolve"
    finally:
        prober.close()
