"""An endpoint's answer is read by the probe's deadline and capped, on both probe paths:
directly, and through the API server's service proxy (``observe.get``)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from reconciler import observe
from reconciler.controller.probe import ANSWER_LIMIT, Prober
from registry.entry import Entry

MODEL = "llama-2-7b"
ENDPOINT = f"{MODEL}-production.system.svc.cluster.local:8000"  # the proxy path parses it


class Raw:
    """One-shot HTTP server writing ``head`` then what ``body`` yields, as it yields it."""

    def __init__(self, head: bytes, body: Callable[[threading.Event], Iterator[bytes]]) -> None:
        self.sent = 0
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, args=(head, body), daemon=True).start()

    def _serve(self, head: bytes, body: Callable[[threading.Event], Iterator[bytes]]) -> None:
        conn, _ = self.listener.accept()
        with conn, self.listener:
            conn.recv(65536)
            try:
                conn.sendall(head)
                for chunk in body(self.stop):
                    conn.sendall(chunk)
                    self.sent += len(chunk)
            except OSError:
                pass
            self.stop.wait(30)  # keep the connection open: no end-of-answer to lean on


@contextlib.contextmanager
def serving(head: bytes, body: Callable[[threading.Event], Iterator[bytes]]) -> Iterator[Raw]:
    server = Raw(head, body)
    try:
        yield server
    finally:
        server.stop.set()


def trickle(first: bytes = b"") -> Callable[[threading.Event], Iterator[bytes]]:
    def body(stop: threading.Event) -> Iterator[bytes]:
        yield first
        while not stop.wait(0.1):
            yield b" "

    return body


def flood(stop: threading.Event) -> Iterator[bytes]:
    chunk = b" " * (1 << 20)
    for _ in range(256):
        yield chunk


def once(data: bytes) -> Callable[[threading.Event], Iterator[bytes]]:
    return lambda stop: iter([data])


def probe(server: Raw, via: str, timeout: float = 0.5):
    """The verdict of one probe of ``server`` (as the endpoint, or as the API server)."""
    from kubernetes import client

    cluster = None
    endpoint = f"127.0.0.1:{server.port}"
    if via == "proxy":
        configuration = client.Configuration()
        configuration.host = f"http://127.0.0.1:{server.port}"
        cluster = observe.Cluster("test", client.ApiClient(configuration))
        endpoint = ENDPOINT
    prober = Prober(via=via, cluster=cluster, timeout=timeout)
    result: list = []
    worker = threading.Thread(target=lambda: result.append(prober.probe(entry(endpoint))))
    worker.daemon = True
    worker.start()
    try:
        worker.join(10)  # 20x the timeout: a hang guard, not a timing assertion
        assert result, "the probe still runs 10 s after its 0.5 s timeout"
        return result[0]
    finally:
        server.stop.set()
        prober.close()


def entry(endpoint: str) -> Entry:
    return Entry(MODEL, "production", "system", endpoint)


def listing(size: int) -> bytes:
    """A /v1/models answer serving MODEL, padded to ``size`` bytes."""
    answer = json.dumps({"data": [{"id": MODEL}]}).encode()
    return answer + b" " * (size - len(answer))


def ok_head(length: int | None) -> bytes:
    announced = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{announced}\r\n".encode()


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_a_trickled_answer_ends_at_the_timeout(via):
    with serving(ok_head(1_000_000), trickle()) as server:
        verdict = probe(server, via)
    assert (verdict.reason, verdict.conclusive) == ("endpoint did not answer in 0.5 s", True)


def test_a_trickled_head_ends_at_the_timeout():
    """http.client reads the status line and headers a line at a time, each socket read
    with its own timeout: a header trickled a byte at a time would never end. (Through
    the proxy the API server reads the endpoint's head whole before it answers.)"""
    with serving(b"HTTP/1.1 200 OK\r\nX-Slow: ", trickle()) as server:
        verdict = probe(server, "direct")
    assert verdict.reason == "endpoint did not answer in 0.5 s"


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_an_answer_without_a_length_cut_by_the_deadline_is_not_taken_as_whole(via):
    """Without Content-Length the answer ends when the connection does: a complete-looking
    listing followed by a trickle must not read as 'served' once the deadline cuts it."""
    with serving(ok_head(None), trickle(listing(100))) as server:
        verdict = probe(server, via)
    assert verdict.reason == "endpoint did not answer in 0.5 s"


@pytest.mark.parametrize("via", ["direct", "proxy"])
@pytest.mark.parametrize("status", ["200 OK", "500 Internal Server Error"])
def test_a_huge_answer_is_cut_at_the_cap(via, status):
    head = f"HTTP/1.1 {status}\r\nContent-Length: 1073741824\r\n\r\n".encode()
    with serving(head, flood) as server:
        verdict = probe(server, via, timeout=5.0)
    assert (verdict.reason, verdict.conclusive) == (
        "endpoint answered GET /v1/models with over 1 MiB",
        True,
    )
    assert server.sent < 64 << 20, f"the probe read {server.sent >> 20} MiB of the answer"


@pytest.mark.parametrize("via", ["direct", "proxy"])
def test_an_answer_of_exactly_the_cap_is_read(via):
    with serving(ok_head(ANSWER_LIMIT), once(listing(ANSWER_LIMIT))) as server:
        assert probe(server, via, timeout=5.0).ok


def test_a_name_that_does_not_resolve_moves_nothing():
    """From outside the cluster no Service name resolves (--probe-via direct there): that
    says nothing of the endpoint; Kubernetes' observation says whether the Service exists."""
    prober = Prober(via="direct", cluster=None, timeout=0.5)
    try:
        verdict = prober.probe(entry("no-such-host.invalid:8000"))
    finally:
        prober.close()
    assert (verdict.reason, verdict.conclusive) == ("endpoint's host name does not resolve", False)
