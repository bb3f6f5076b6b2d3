"""A fake GitLab API: the notes of one merge request (!42 of project 9), for
scripts/ci/post_mr_note.py; TOKEN belongs to BOT."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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
