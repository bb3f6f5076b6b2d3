"""scripts/ci/post_mr_note.py against a fake GitLab API: one note per environment,
updated in place by later pipelines, found across pages, never someone else's."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts/ci/post_mr_note.py"
TOKEN = "glpat-secret"
BOT = {"id": 7, "username": "registry-bot"}
NOTES = "/api/v4/projects/9/merge_requests/42/notes"


class FakeGitLab:
    """The notes of merge request !42 of project 9; the token belongs to BOT."""

    def __init__(self, *, link_pagination: bool = False, user_status: int = 200) -> None:
        self.notes: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.link_pagination = link_pagination
        self.user_status = user_status
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.handle(self, "GET")

            def do_POST(self):
                fake.handle(self, "POST")

            def do_PUT(self):
                fake.handle(self, "PUT")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_port}/api/v4"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, body: str, author: dict = BOT) -> int:
        note = {"id": 1000 + len(self.notes), "body": body, "author": author, "system": False}
        self.notes.append(note)
        return note["id"]

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        self.requests.append((method, handler.path))
        if handler.headers["PRIVATE-TOKEN"] != TOKEN:
            return self.reply(handler, 401, {"message": "401 Unauthorized"})
        length = int(handler.headers.get("Content-Length") or 0)
        data = json.loads(handler.rfile.read(length)) if length else None
        if method == "GET" and url.path == "/api/v4/user":
            return self.reply(handler, self.user_status, BOT)
        if method == "GET" and url.path == NOTES:
            return self.page(handler, parse_qs(url.query))
        if method == "POST" and url.path == NOTES:
            note_id = self.add(data["body"])
            return self.reply(handler, 201, self.notes[-1] | {"id": note_id})
        if method == "PUT" and url.path.startswith(NOTES + "/"):
            note = next(n for n in self.notes if n["id"] == int(url.path.rsplit("/", 1)[1]))
            assert note["author"] == BOT, "the script edited someone else's note"
            note["body"] = data["body"]
            return self.reply(handler, 200, note)
        return self.reply(handler, 404, {"message": "404 Not Found"})

    def page(self, handler, query) -> None:
        size = int(query["per_page"][0])
        number = int(query.get("page", ["1"])[0])
        notes = self.notes[(number - 1) * size : number * size]
        more = number * size < len(self.notes)
        headers = {}
        if more and self.link_pagination:
            headers["Link"] = (
                f'<{self.api}{NOTES[7:]}?per_page={size}&page={number + 1}>; rel="next"'
            )
        elif more:
            headers["X-Next-Page"] = str(number + 1)
        else:
            headers["X-Next-Page"] = ""
        self.reply(handler, 200, notes, headers)

    @staticmethod
    def reply(handler, status: int, data, headers: dict | None = None) -> None:
        body = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def bodies(self) -> list[str]:
        return [note["body"] for note in self.notes]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gitlab():
    fake = FakeGitLab()
    yield fake
    fake.close()


def post(tmp_path, gitlab, plan: str, *environment: str, env: dict | None = None):
    path = tmp_path / "plan.md"
    path.write_text(plan)
    full_env = {
        "REGISTRY_MR_NOTE_TOKEN": TOKEN,
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": gitlab.api,
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, SCRIPT, path, *environment],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert TOKEN not in result.stdout + result.stderr
    return result


def marker(environment: str) -> str:
    return f"<!-- vllm-model-registry plan: {environment} -->"


def test_the_first_pipeline_posts_and_the_next_updates_the_same_note(tmp_path, gitlab):
    first = post(tmp_path, gitlab, "### plan 1\n+ llama-2-7b", "production")
    assert first.returncode == 0, first.stderr
    assert "posted the plan to merge request !42 (production, HTTP 201)" in first.stdout
    assert gitlab.bodies() == [f"{marker('production')}\n### plan 1\n+ llama-2-7b"]
    second = post(tmp_path, gitlab, "### plan 2\n~ llama-2-7b", "production")
    assert second.returncode == 0, second.stderr
    assert "updated the plan in note 1000 of merge request !42" in second.stdout
    assert gitlab.bodies() == [f"{marker('production')}\n### plan 2\n~ llama-2-7b"]
    assert ("PUT", f"{NOTES}/1000") in gitlab.requests


def test_two_environments_keep_two_notes_and_env_var_names_it(tmp_path, gitlab):
    post(tmp_path, gitlab, "staging 1", "staging")
    post(tmp_path, gitlab, "production 1", env={"ENVIRONMENT": "production"})
    post(tmp_path, gitlab, "staging 2", "staging")
    assert gitlab.bodies() == [
        f"{marker('staging')}\nstaging 2",
        f"{marker('production')}\nproduction 1",
    ]


@pytest.mark.parametrize("link_pagination", [False, True], ids=["x-next-page", "link"])
def test_the_note_is_found_past_the_first_page(tmp_path, link_pagination):
    gitlab = FakeGitLab(link_pagination=link_pagination)
    try:
        for number in range(150):
            gitlab.add(f"review comment {number}", author={"id": 100 + number})
        own = gitlab.add(f"{marker('production')}\nold plan")
        for number in range(60):
            gitlab.add(f"later comment {number}", author={"id": 500})
        result = post(tmp_path, gitlab, "new plan", "production")
        assert result.returncode == 0, result.stderr
        assert f"updated the plan in note {own}" in result.stdout
        assert gitlab.bodies()[150] == f"{marker('production')}\nnew plan"
        assert len(gitlab.notes) == 211
        assert [m for m, path in gitlab.requests if path.startswith(NOTES + "?")] == ["GET"] * 3
    finally:
        gitlab.close()


def test_a_marker_in_another_users_note_is_not_taken_over(tmp_path, gitlab):
    hostile = gitlab.add(f"{marker('production')}\nplease approve", author={"id": 666})
    quoted = gitlab.add(f"> {marker('production')}\nquoting the bot")  # not at the start
    result = post(tmp_path, gitlab, "the real plan", "production")
    assert result.returncode == 0, result.stderr
    assert gitlab.notes[0] == {
        "id": hostile,
        "body": f"{marker('production')}\nplease approve",
        "author": {"id": 666},
        "system": False,
    }
    assert gitlab.notes[1]["id"] == quoted and gitlab.notes[1]["body"].startswith("> ")
    assert gitlab.bodies()[2] == f"{marker('production')}\nthe real plan"


def test_without_knowing_its_user_it_posts_rather_than_edits(tmp_path):
    gitlab = FakeGitLab(user_status=403)
    try:
        gitlab.add(f"{marker('production')}\nold plan")
        result = post(tmp_path, gitlab, "new plan", "production")
        assert result.returncode == 0, result.stderr
        assert gitlab.bodies() == [
            f"{marker('production')}\nold plan",
            f"{marker('production')}\nnew plan",
        ]
    finally:
        gitlab.close()


@pytest.mark.parametrize("environment", ["", "Production", "prod -->", "a" * 64, "prod\nx"])
def test_an_environment_that_is_not_a_dns_label_is_an_error(tmp_path, gitlab, environment):
    result = post(tmp_path, gitlab, "plan", environment)
    assert result.returncode == 1
    assert result.stderr.startswith("error: post_mr_note.py needs the plan's environment")
    assert gitlab.requests == []


def test_a_gitlab_error_is_a_warning(tmp_path, gitlab):
    result = post(tmp_path, gitlab, "plan", "production", env={"CI_PROJECT_ID": "8"})
    assert result.returncode == 0
    assert "warning: could not post the plan to merge request !42 (production):" in result.stdout
    assert "HTTP Error 404" in result.stdout
