"""The optional merge request note step of the pipeline."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts/ci/post_mr_note.py"


def run(plan_md, env):
    return subprocess.run(
        [sys.executable, SCRIPT, plan_md], env=env, capture_output=True, text=True, timeout=60
    )


def test_skipped_without_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("## plan")
    result = run(plan, {"CI_MERGE_REQUEST_IID": "7"})
    assert result.returncode == 0
    assert "merge request note skipped: REGISTRY_MR_NOTE_TOKEN is unset" in result.stdout


def test_posts_markdown_to_the_merge_request(tmp_path):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.headers["PRIVATE-TOKEN"], self.rfile.read(length)))
            self.send_response(201)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    plan = tmp_path / "plan.md"
    plan.write_text("### Registry plan\n+ llama-2-7b")
    env = {
        "REGISTRY_MR_NOTE_TOKEN": "glpat-secret",
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": f"http://127.0.0.1:{server.server_port}/api/v4",
    }
    try:
        result = run(plan, env)
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert "posted the plan to merge request !42 (HTTP 201)" in result.stdout
    [(path, token, body)] = received
    assert path == "/api/v4/projects/9/merge_requests/42/notes"
    assert token == "glpat-secret"
    assert json.loads(body) == {"body": "### Registry plan\n+ llama-2-7b"}
    assert "glpat-secret" not in result.stdout + result.stderr


def test_unreachable_gitlab_is_a_warning_without_the_token(tmp_path):
    plan = tmp_path / "plan.md"
    plan.write_text("x")
    env = {
        "REGISTRY_MR_NOTE_TOKEN": "glpat-secret",
        "CI_MERGE_REQUEST_IID": "42",
        "CI_PROJECT_ID": "9",
        "CI_API_V4_URL": "http://127.0.0.1:1/api/v4",
    }
    result = run(plan, env)
    assert result.returncode == 0
    assert "warning: could not post the plan" in result.stdout
    assert "glpat-secret" not in result.stdout + result.stderr
