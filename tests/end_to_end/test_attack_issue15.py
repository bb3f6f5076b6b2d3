"""Attacks on what issue 15 added: REDIS_URL (Sentinel), the merge-request note script,
the one error mapping, Settings and the per-run session.

Each test is a finding that is not fixed yet: ``xfail(strict=True)`` keeps the suite
green until the fix lands, and turns it red the moment the test passes (then drop the
mark). Real PostgreSQL and Redis; a fake Sentinel only where a real one cannot answer
what is being tested (garbage), and a fake GitLab API.
"""

from __future__ import annotations

import logging
import socketserver
import threading

import pytest

from registry.cache import Cache
from registry.errors import RegistryError
from registry.lookup import Resolver
from tests.fakes.gitlab import NOTES, TOKEN, FakeGitLab
from tests.helpers import ENV, MODEL, free_port, register
from tests.scripts.ci.test_post_mr_note import marker, post

SECRET = "S3cretPw"


def clean_error(code: int, err: str) -> str:
    """The one `error:` line of a failed command that is the operator's to fix."""
    assert code == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    return line


# --- F1: libpq quotes the part of DATABASE_URL it cannot parse: the password ------------------


@pytest.mark.xfail(
    strict=True,
    reason="F1: a DATABASE_URL that libpq cannot parse is quoted in the error, password too",
)
@pytest.mark.parametrize(
    "url",
    [
        # A generated password with a '%' the operator did not percent-encode.
        f"postgresql://registry:Zq%9x{SECRET}@127.0.0.1:1/registry",
        # A key=value string with a password that has a space and no quotes.
        f"host=127.0.0.1 port=1 user=registry password=Zq9x {SECRET}",
    ],
    ids=["percent", "space"],
)
@pytest.mark.parametrize("debug", [(), ("--debug",)], ids=["plain", "debug"])
def test_f1_an_unparsable_database_url_never_shows_its_password(registry, url, debug):
    code, out, err = registry(*debug, "list", env={"DATABASE_URL": url})
    line = clean_error(code, err)
    assert "DATABASE_URL" in line
    assert SECRET not in out + err


@pytest.mark.xfail(
    strict=True,
    reason="F1: the router's connection pool logs the password of an unparsable DATABASE_URL "
    "at every reconnection attempt",
)
def test_f1_the_router_never_logs_the_password_of_an_unparsable_url(caplog):
    url = f"postgresql://registry:Zq%9x{SECRET}@127.0.0.1:1/registry"
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(RegistryError),
        Resolver(url, pool_timeout=1) as resolver,
    ):
        resolver.resolve(MODEL, ENV)
    assert SECRET not in caplog.text


# --- F2: REDIS_URL values the check accepts and redis-py cannot use -------------------------


@pytest.mark.xfail(
    strict=True,
    reason="F2: a REDIS_URL that redis_url.parse accepts but redis-py cannot use is an "
    "internal error",
)
@pytest.mark.parametrize(
    "url",
    [
        "{redis}?ssl_cert_reqs=none",  # a rediss:// option on a redis:// URL
        "{redis}?sockettimeout=5",  # a typo
        "{redis}?retry=3",
        "redis://redis..svc.cluster.local:6379/0",  # an empty DNS label
        "redis+sentinel://sentinel..svc.cluster.local/registry-cache",
        "redis+sentinel://127.0.0.1:1/registry-cache?service_name=other",
    ],
)
def test_f2_a_redis_url_redis_py_cannot_use_is_a_clean_error(registry, redis_url, url):
    code, _, err = registry("cache", "sync", env={"REDIS_URL": url.format(redis=redis_url)})
    assert "REDIS_URL" in clean_error(code, err)


@pytest.mark.xfail(
    strict=True,
    reason="F2: with an unknown REDIS_URL option the router's lookups fail instead of "
    "falling back to the database",
)
def test_f2_the_router_falls_back_to_the_database_whatever_redis_py_raises(
    conn, database_url, redis_url
):
    register(conn)
    cache = Cache(f"{redis_url}?ssl_cert_reqs=none")
    with Resolver(database_url, cache=cache, cache_retry_interval=0) as resolver:
        assert resolver.resolve_with_source(MODEL, ENV)[1] == "database"


# --- F6: KUBECONFIG that holds a kubeconfig's text instead of its path -----------------------

KUBECONFIG_TEXT = """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
contexts:
- name: prod
  context: {{cluster: prod, user: ci}}
current-context: prod
users:
- name: ci
  user:
    token: {token}
"""


@pytest.mark.xfail(
    strict=True,
    reason="F6: KUBECONFIG set to the kubeconfig's text (a GitLab variable of type Variable, "
    "not File) prints its token: in the 'no kubeconfig found' notice, or in an internal "
    "error (File name too long)",
)
@pytest.mark.parametrize(
    "token",
    ["st4tic-T0ken-S3cret", "eyJhbGciOiJSUzI1NiJ9." + "S3cretJwtBody" * 70 + ".sig"],
    ids=["static-token", "service-account-jwt"],
)
@pytest.mark.parametrize("variable", ["KUBECONFIG", "REGISTRY_KUBECONFIG"])
def test_f6_a_kubeconfig_s_text_in_kubeconfig_never_shows_its_token(registry, token, variable):
    text = KUBECONFIG_TEXT.format(token=token)
    code, out, err = registry("register", "-m", MODEL, "-e", ENV, env={variable: text})
    assert "internal error" not in err
    assert "S3cret" not in out + err


# --- F7: redaction by substring shows a password that is a word of the message ---------------


@pytest.mark.xfail(
    strict=True,
    reason="F7: a password that is also a word of the driver's message is starred there, "
    "which shows what it is ('Connection ****')",
)
@pytest.mark.parametrize(
    ("variable", "url", "command"),
    [
        ("DATABASE_URL", "postgresql://registry:refused@127.0.0.1:{port}/registry", ("list",)),
        ("REDIS_URL", "redis://:refused@127.0.0.1:{port}/0", ("cache", "sync")),
    ],
    ids=["database", "redis"],
)
def test_f7_a_message_without_the_password_is_not_starred(registry, variable, url, command):
    code, _, err = registry(*command, env={variable: url.format(port=free_port())})
    line = clean_error(code, err)
    assert "Connection refused" in line  # nothing in it is a secret: nothing is starred
    assert "****" not in line


# --- F8: what an error suggests is redacted away ---------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="F8: the CLI's URL redaction turns the forms an invalid REDIS_URL error suggests "
    "into '<unparsable URL>'",
)
@pytest.mark.parametrize("url", ["redis+sentinel://s1:26379", "http://cache:6379/0"])
def test_f8_an_invalid_redis_url_error_shows_the_forms_to_use(registry, url):
    code, _, err = registry("cache", "sync", env={"REDIS_URL": url})
    line = clean_error(code, err)
    assert line.startswith("error: invalid REDIS_URL: "), line
    assert "<unparsable URL>" not in line
    assert "redis+sentinel://[:PASSWORD@]SENTINEL:PORT" in line


# --- F3: a Sentinel that answers garbage ------------------------------------------------------


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


@pytest.mark.xfail(
    strict=True,
    reason="F3: a Sentinel's malformed answer escapes Cache as KeyError/TypeError: an "
    "internal error in the CLI",
)
def test_f3_a_garbage_sentinel_answer_is_cache_unavailable(registry, garbage_sentinel):
    code, _, err = registry("cache", "sync", env={"REDIS_URL": garbage_sentinel.url})
    line = clean_error(code, err)
    assert line.startswith("error: Redis at m/0 via Sentinel 127.0.0.1:"), line
    assert SECRET not in err


@pytest.mark.xfail(
    strict=True,
    reason="F3: a Sentinel's malformed answer makes the router's lookups fail instead of "
    "falling back to the database",
)
def test_f3_the_router_falls_back_to_the_database_past_a_garbage_sentinel(
    conn, database_url, garbage_sentinel
):
    register(conn)
    cache = Cache(garbage_sentinel.url)
    with Resolver(database_url, cache=cache, cache_retry_interval=0) as resolver:
        assert resolver.resolve_with_source(MODEL, ENV)[1] == "database"


# --- post_mr_note.py against a hostile or flaky GitLab ----------------------------------------


class HostileGitLab(FakeGitLab):
    """The fake GitLab API, with ``routes[(method, path)](handler)`` answering instead
    (path without the query)."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.routes: dict = {}
        self.tokens: list[str | None] = []  # the PRIVATE-TOKEN of every request

    def handle(self, handler, method: str) -> None:
        self.tokens.append(handler.headers["PRIVATE-TOKEN"])
        route = self.routes.get((method, handler.path.partition("?")[0]))
        if route is None:
            return super().handle(handler, method)
        self.requests.append((method, handler.path))
        return route(handler)


@pytest.fixture
def hostile():
    fakes: list[HostileGitLab] = []

    def make() -> HostileGitLab:
        fakes.append(HostileGitLab())
        return fakes[-1]

    yield make
    for fake in fakes:
        fake.close()


def redirect_to(location: str):
    def reply(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return reply


@pytest.mark.xfail(
    strict=True,
    reason="F4: urllib follows GitLab's redirects to any host with the PRIVATE-TOKEN header",
)
@pytest.mark.parametrize("path", ["/api/v4/user", NOTES])
def test_f4_a_redirect_to_another_host_never_carries_the_token(tmp_path, hostile, path):
    gitlab, elsewhere = hostile(), hostile()
    gitlab.add(f"{marker('production')}\nold plan")
    gitlab.routes[("GET", path)] = redirect_to(f"{elsewhere.api}/stolen")
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert TOKEN not in elsewhere.tokens


def reset(handler) -> None:
    """Close the connection without an answer (a load balancer's reset)."""
    handler.close_connection = True


def truncated(handler) -> None:
    """Promise a body longer than the one sent, then close."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "4096")
    handler.end_headers()
    handler.wfile.write(b'[{"id": 1')
    handler.close_connection = True


def nested(handler) -> None:
    """A JSON body nested past Python's recursion limit."""
    body = b"[" * 100_000
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.xfail(
    strict=True,
    reason="F5: a reset connection, a truncated body or deeply nested JSON from GitLab is a "
    "traceback and exit 1 (fails the plan job), not the documented warning",
)
@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("GET", "/api/v4/user", reset),
        ("GET", NOTES, reset),
        ("GET", NOTES, truncated),
        ("GET", NOTES, nested),
        ("POST", NOTES, reset),
    ],
    ids=["user-reset", "notes-reset", "notes-truncated", "notes-nested", "post-reset"],
)
def test_f5_a_flaky_gitlab_is_a_warning_not_a_failed_plan(tmp_path, hostile, method, path, answer):
    gitlab = hostile()
    gitlab.routes[(method, path)] = answer
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(("warning: could not post", "posted the plan")), result.stdout
    assert TOKEN not in result.stdout + result.stderr
