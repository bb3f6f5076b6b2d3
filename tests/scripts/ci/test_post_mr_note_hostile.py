"""scripts/ci/post_mr_note.py against a hostile or flaky GitLab: the token never follows a
redirect to another host, and a reset, truncated or absurd answer is the documented
warning (exit 0), never a traceback that fails the plan job."""

from __future__ import annotations

import pytest

from tests.fakes.gitlab import NOTES, TOKEN, FakeGitLab
from tests.scripts.ci.test_post_mr_note import marker, post


class HostileGitLab(FakeGitLab):
    """The fake GitLab API, with ``routes[(method, path)](handler)`` answering instead
    (path without the query)."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.routes: dict = {}
        self.tokens: list[str | None] = []  # the PRIVATE-TOKEN of every request

    def handle(self, handler, method: str) -> None:
        self.tokens.append(handler.headers["PRIVATE-TOKEN"])
        route = self.routes.pop((method, handler.path.partition("?")[0]), None)
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
    """A 302 to ``location`` (a route answers once: the redirected request is served)."""

    def reply(handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return reply


@pytest.mark.parametrize("path", ["/api/v4/user", NOTES])
def test_a_redirect_to_another_host_never_carries_the_token(tmp_path, hostile, path):
    gitlab, elsewhere = hostile(), hostile()
    gitlab.add(f"{marker('production')}\nold plan")
    gitlab.routes[("GET", path)] = redirect_to(f"{elsewhere.api}/stolen")
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert elsewhere.tokens == []  # not followed at all
    if path == NOTES:
        assert result.stdout.startswith("warning: could not post the plan"), result.stdout
        assert "a redirect to another host, not followed" in result.stdout
    else:  # the user is unknown, so a new note is posted rather than one taken over
        assert result.stdout.startswith("posted the plan"), result.stdout


def test_a_redirect_on_the_same_host_is_followed(tmp_path, hostile):
    gitlab = hostile()
    note = gitlab.add(f"{marker('production')}\nold plan")
    gitlab.routes[("GET", "/api/v4/user")] = redirect_to(f"{gitlab.api}/user?moved=1")
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert f"updated the plan in note {note}" in result.stdout, result.stdout
    assert ("GET", "/api/v4/user?moved=1") in gitlab.requests
    assert gitlab.bodies() == [f"{marker('production')}\nthe plan"]


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


def not_json(handler) -> None:
    body = b"<html>502 Bad Gateway</html>"
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("GET", "/api/v4/user", reset),
        ("GET", NOTES, reset),
        ("GET", NOTES, truncated),
        ("GET", NOTES, nested),
        ("GET", NOTES, not_json),
        ("POST", NOTES, reset),
    ],
    ids=[
        "user-reset",
        "notes-reset",
        "notes-truncated",
        "notes-nested",
        "notes-html",
        "post-reset",
    ],
)
def test_a_flaky_gitlab_is_a_warning_not_a_failed_plan(tmp_path, hostile, method, path, answer):
    gitlab = hostile()
    gitlab.routes[(method, path)] = answer
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(("warning: could not post", "posted the plan")), result.stdout
    assert TOKEN not in result.stdout + result.stderr
    if path == NOTES:  # the notes could not be read, or the post failed: said which
        assert result.stdout.startswith("warning: could not post the plan"), result.stdout
        assert f"{method} {NOTES}: " in result.stdout


def oversized(handler) -> None:
    """A 40 MiB answer: past MAX_BODY, whatever it would parse to."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(40 << 20))
    handler.end_headers()
    try:
        for _ in range(40):
            handler.wfile.write(b" " * (1 << 20))
    except OSError:  # the script stopped reading at the cap and hung up
        pass
    handler.close_connection = True


def test_an_answer_past_the_body_cap_is_not_read_to_its_end(tmp_path, hostile):
    from scripts.ci.post_mr_note import MAX_BODY

    gitlab = hostile()
    gitlab.routes[("GET", NOTES)] = oversized
    result = post(tmp_path, gitlab, "the plan", "production")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("warning: could not post the plan"), result.stdout
    assert f"GET {NOTES}: an answer of more than {MAX_BODY} bytes" in result.stdout
    assert gitlab.bodies() == []  # nothing posted on a GitLab that cannot be read
