"""A model's endpoint is its team's server: what it answers to GET /v1/models is hostile
input to the controller (stored as the pending reason, logged, shown by `health`)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from reconciler.controller.probe import Prober, served
from registry.entry import Entry


@pytest.mark.parametrize(
    ("served_id", "shown"),
    [
        ("\x00", "\\x00"),  # PostgreSQL text cannot hold NUL
        ("\udcff", "\\udcff"),  # nor a lone surrogate (psycopg cannot encode it)
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # retitles the terminal of `kubectl logs`
        ("x\n2026-01-01 00:00:00 INFO forged", "x\\n2026-01-01 00:00:00 INFO forged"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
    ],
)
def test_a_served_id_is_escaped_in_the_verdict(served_id, shown):
    body = json.dumps({"data": [{"id": served_id}]}).encode()
    assert served(body, "llama-2-7b") == f"endpoint serves [{shown}], not llama-2-7b"


def test_a_verdict_names_a_few_short_ids_of_a_long_answer():
    ids = [f"model-{n}-" + "x" * 1000 for n in range(10_000)]
    verdict = served(json.dumps({"data": [{"id": i} for i in ids]}).encode(), "llama-2-7b")
    assert verdict.endswith(" and 9990 more], not llama-2-7b")
    assert len(verdict) < 2000


def _trickling_endpoint(stop: threading.Event) -> int:
    """A server that answers 200 and then one byte every 0.2 s, never finishing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not stop.wait(0.2):
            try:
                conn.sendall(b" ")
            except OSError:
                break
        conn.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_a_trickling_endpoint_cannot_hold_a_probe_past_its_timeout():
    """The read timeout is per socket read: one byte every 0.2 s keeps a 0.5 s probe (and
    with it the prober's round, which waits for every probe) going for ever."""
    stop = threading.Event()
    port = _trickling_endpoint(stop)
    prober = Prober(via="direct", cluster=None, timeout=0.5)
    done = threading.Event()
    entry = Entry("llama-2-7b", "production", "system", f"127.0.0.1:{port}")
    threading.Thread(target=lambda: (prober.probe(entry), done.set()), daemon=True).start()
    try:
        # 20x the timeout: a hang guard, not a timing assertion
        assert done.wait(10), "the probe still runs 10 s after its 0.5 s timeout"
    finally:
        stop.set()
        prober.close()


def test_a_huge_answer_is_not_read_whole():
    """A /v1/models answer of 256 MiB (of 1 GiB announced) must not be read into the
    controller's memory: one endpoint could get the controller OOM-killed in a loop."""
    sent = 0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        nonlocal sent
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        chunk = b" " * (1 << 20)
        try:
            while sent < 256 << 20:
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        conn.close()
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    prober = Prober(via="direct", cluster=None, timeout=2.0)
    entry = Entry("llama-2-7b", "production", "system", f"127.0.0.1:{listener.getsockname()[1]}")
    try:
        verdict = prober.probe(entry)
    finally:
        prober.close()
    assert not verdict.ok
    assert sent < 64 << 20, f"the probe read {sent >> 20} MiB of the answer"


def test_a_deeply_nested_answer_is_a_verdict():
    """json.loads raises RecursionError, which is not a ValueError: it escaped the probe and
    ended the prober's thread, and with it every probe of the controller."""
    for body in (b"[" * 100_000, b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"):
        assert served(body, "llama-2-7b") == (
            "endpoint did not answer GET /v1/models in the OpenAI format"
        )
