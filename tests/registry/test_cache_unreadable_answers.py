"""A Sentinel (or Redis) answering what redis-py cannot read: redis-py raises KeyError,
TypeError, ... rather than RedisError. The cache is then unavailable like any other
failure: the CLI says so cleanly and the router's lookups fall back to the database."""

from __future__ import annotations

import socketserver
import threading

import pytest

from registry.cache import Cache
from registry.lookup import Resolver
from tests.helpers import ENV, MODEL, fails, register

SECRET = "S3cretPw"


def _resp(value) -> bytes:
    """RESP3 encoding of a list, a map, a number or a string."""
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(_resp(v) for v in value)
    if isinstance(value, dict):
        return b"%%%d\r\n" % len(value) + b"".join(_resp(k) + _resp(v) for k, v in value.items())
    data = value.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


class GarbageSentinel:
    """A TCP server that speaks just enough RESP3 to be asked for masters, and answers
    ``masters`` (a real Sentinel's reply, minus what a test leaves out)."""

    def __init__(self, masters: list[dict[str, str]]) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while line := self.rfile.readline():
                    args = []
                    for _ in range(int(line[1:])):
                        size = int(self.rfile.readline()[1:])
                        args.append(self.rfile.read(size + 2)[:-2].decode().upper())
                    if args[:1] == ["HELLO"]:
                        proto = int(args[1]) if len(args) > 1 else 2
                        self.wfile.write(_resp({"server": "redis", "proto": proto}))
                    elif args[:2] == ["SENTINEL", "MASTERS"]:
                        self.wfile.write(_resp(masters))
                    else:
                        self.wfile.write(b"+OK\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"redis+sentinel://:{SECRET}@127.0.0.1:{self.server.server_address[1]}/m"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


MASTER = {
    "name": "m",
    "ip": "127.0.0.1",
    "port": "1",
    "flags": "master",
    "num-other-sentinels": "0",
    "quorum": "1",
}
GARBAGE = {
    "no-flags": [{k: v for k, v in MASTER.items() if k != "flags"}],
    "sentinels-not-a-number": [MASTER | {"num-other-sentinels": "many"}],
}


@pytest.fixture(params=sorted(GARBAGE))
def garbage_sentinel(request):
    sentinel = GarbageSentinel(GARBAGE[request.param])
    yield sentinel
    sentinel.close()


def test_a_garbage_sentinel_answer_is_cache_unavailable(registry, garbage_sentinel):
    err = fails(
        registry("cache", "sync", env={"REDIS_URL": garbage_sentinel.url}),
        "error: Redis at m/0 via Sentinel 127.0.0.1:",
        "Redis or a Sentinel answered what redis-py cannot read",
    )
    assert SECRET not in err


def test_the_router_falls_back_to_the_database_past_a_garbage_sentinel(
    conn, database_url, garbage_sentinel
):
    register(conn)
    cache = Cache(garbage_sentinel.url)
    with Resolver(database_url, cache=cache, cache_retry_interval=0) as resolver:
        assert resolver.resolve_with_source(MODEL, ENV)[1] == "database"
        assert resolver.resolve_with_source(MODEL, ENV)[1] == "database"
        assert resolver.stats.cache_errors == 2
