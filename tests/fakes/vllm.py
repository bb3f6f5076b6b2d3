"""A fake vLLM server for the tests: real HTTP, vLLM's OpenAI-compatible ``GET /v1/models``.

    server = FakeVLLM(["llama-2-7b"])           # serves one model id
    kube.set_backend("llama-2-7b-production", "system", server.url)   # behind the proxy
    server.models = ["other"]                    # now it answers with another model
    server.delay = 3.0                           # answers after 3 s (probe timeouts)
    server.status = 500                          # answers an error
    server.api_key = "secret"                    # requires "Authorization: Bearer secret"
    server.requests                              # how many requests it answered

Every attribute may be changed while it serves. ``close()`` stops it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.kube import QuietHandler, send

MAX_MODEL_LEN = 4096


class FakeVLLM:
    def __init__(
        self,
        models: Sequence[str] = ("llama-2-7b",),
        *,
        delay: float = 0.0,
        status: int = 200,
        api_key: str | None = None,
    ) -> None:
        self.models = list(models)
        self.delay = delay
        self.status = status
        self.api_key = api_key  # vLLM's --api-key / VLLM_API_KEY
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """What vLLM answers: its auth middleware guards /v1, then the route."""
        with self.lock:
            self.requests += 1
        if self.delay:
            time.sleep(self.delay)
        if self.api_key and path.startswith("/v1") and authorization != f"Bearer {self.api_key}":
            return 401, {"error": "Unauthorized"}
        if path != "/v1/models":
            return 404, {"detail": "Not Found"}
        if self.status != 200:
            return self.status, {
                "object": "error",
                "message": "The engine is not running",
                "type": "InternalServerError",
                "param": None,
                "code": self.status,
            }
        return 200, {"object": "list", "data": [_model_card(model) for model in self.models]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body = fake.answer(
                    self.path.split("?", 1)[0], self.headers.get("Authorization")
                )
                send(self, status, json.dumps(body).encode())

        return Handler


def _model_card(model: str) -> dict[str, Any]:
    """One entry of ``data`` as vLLM's ModelCard serializes it."""
    created = int(time.time())
    return {
        "id": model,
        "object": "model",
        "created": created,
        "owned_by": "vllm",
        "root": model,
        "parent": None,
        "max_model_len": MAX_MODEL_LEN,
        "permission": [
            {
                "id": f"modelperm-{uuid.uuid4().hex}",
                "object": "model_permission",
                "created": created,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
        ],
    }
