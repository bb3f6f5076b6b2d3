"""A fake Kubernetes API server for the tests: real HTTP, real Kubernetes JSON.

It serves the two list endpoints the registry reads (apps/v1 Deployments and
v1 Services per namespace) from state a test sets, counts every request, and
can be told to misbehave: answer 401/403/5xx/429 a number of times, reset the
connection, answer slowly, or turn a deployment ready some seconds from now.
The unpatched ``kubernetes`` client talks to it through a generated kubeconfig.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOKEN = "fake-token"
ROUTES = {
    "deployments": re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments$"),
    "services": re.compile(r"^/api/v1/namespaces/([^/]+)/services$"),
}
LIST_KINDS = {"deployments": ("apps/v1", "DeploymentList"), "services": ("v1", "ServiceList")}


def deployment(
    name: str,
    namespace: str,
    *,
    replicas: int = 1,
    ready: int | None = None,
    updated: int | None = None,
    total: int | None = None,
    paused: bool = False,
    generation: int = 1,
    observed_generation: int | None = None,
    deadline_exceeded: bool = False,
) -> dict[str, Any]:
    """A Deployment as the API server returns it; defaults describe a finished rollout."""
    ready = replicas if ready is None else ready
    updated = replicas if updated is None else updated
    total = max(replicas, updated) if total is None else total
    progressing = (
        {"reason": "ProgressDeadlineExceeded", "status": "False"}
        if deadline_exceeded
        else {"reason": "NewReplicaSetAvailable", "status": "True"}
    )
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "strategy": {"type": "RollingUpdate"},
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}]},
        },
    }
    if paused:
        spec["paused"] = True
    status: dict[str, Any] = {
        "observedGeneration": generation if observed_generation is None else observed_generation,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [
            {
                "type": "Available",
                "status": "True" if ready >= replicas else "False",
                "reason": "MinimumReplicasAvailable",
            },
            {"type": "Progressing", **progressing},
        ],
    }
    if ready == 0:
        del status["readyReplicas"], status["availableReplicas"]  # the API omits zero counts
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1",
            "generation": generation,
            "labels": {"app": name},
        },
        "spec": spec,
        "status": status,
    }


def service(name: str, namespace: str, *, ports: tuple[int, ...] = (8000,)) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.10",
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": p, "protocol": "TCP", "targetPort": p} for p in ports
            ],
        },
        "status": {"loadBalancer": {}},
    }


@dataclass
class Failure:
    status: int  # HTTP status, or 0 to reset the connection without answering
    times: int
    kind: str | None = None  # only requests for this kind; None: any
    retry_after: int | None = None


class FakeKube:
    """The server and its state. Use ``add_model`` etc.; read ``requests``."""

    def __init__(self, context: str = "test-cluster") -> None:
        self.context = context
        self.lock = threading.Lock()
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
            "deployments": {},
            "services": {},
        }
        self.requests: list[tuple[str, str]] = []  # (kind, namespace) of each list call
        self.failures: list[Failure] = []
        self.delay = 0.0
        self.ready_at: dict[tuple[str, str], float] = {}  # deployment -> monotonic time
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state -----------------------------------------------------------------------------

    def add_model(
        self,
        model: str,
        environment: str,
        namespace: str = "system",
        *,
        ports: tuple[int, ...] = (8000,),
        **deployment_fields: Any,
    ) -> None:
        """A Deployment and a Service ``{model}-{environment}`` (healthy unless told otherwise)."""
        name = f"{model}-{environment}"
        self.set_deployment(deployment(name, namespace, **deployment_fields))
        self.set_service(service(name, namespace, ports=ports))

    def set_deployment(self, obj: dict[str, Any]) -> None:
        with self.lock:
            self.objects["deployments"][_key(obj)] = obj

    def set_service(self, obj: dict[str, Any]) -> None:
        with self.lock:
            self.objects["services"][_key(obj)] = obj

    def ready_after(self, name: str, namespace: str, seconds: float) -> None:
        """Serve ``name`` as rolling out (0 of N available) until ``seconds`` from now."""
        with self.lock:
            self.ready_at[(namespace, name)] = time.monotonic() + seconds

    def fail(
        self, status: int, times: int = 1, kind: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (0: reset)."""
        with self.lock:
            self.failures.append(Failure(status, times, kind, retry_after))

    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def calls(self) -> Counter:
        with self.lock:
            return Counter(self.requests)

    # --- kubeconfig --------------------------------------------------------------------------

    def write_kubeconfig(
        self, path: Path, *, token: str = TOKEN, server: str | None = None
    ) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.context, "cluster": {"server": server or self.url}}],
            "users": [{"name": "ci", "user": {"token": token}}],
            "contexts": [
                {"name": self.context, "context": {"cluster": self.context, "user": "ci"}}
            ],
            "current-context": self.context,
        }
        path.write_text(json.dumps(config))  # JSON is YAML: the client reads it as is
        return path

    # --- serving -----------------------------------------------------------------------------

    def _answer(self, kind: str, namespace: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            self.requests.append((kind, namespace))
            failure = next((f for f in self.failures if f.times and f.kind in (None, kind)), None)
            if failure:
                failure.times -= 1
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                return failure.status, _status(failure.status, kind, namespace), headers
            items = [
                self._as_now(kind, obj)
                for (ns, _), obj in sorted(self.objects[kind].items())
                if ns == namespace
            ]
        api_version, list_kind = LIST_KINDS[kind]
        body = {
            "apiVersion": api_version,
            "kind": list_kind,
            "metadata": {"resourceVersion": "12345"},
            "items": items,
        }
        return 200, body, {}

    def _as_now(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        ready_at = self.ready_at.get(_key(obj)) if kind == "deployments" else None
        if ready_at is None or time.monotonic() >= ready_at:
            return obj
        replicas = obj["spec"]["replicas"]
        return deployment(
            obj["metadata"]["name"], obj["metadata"]["namespace"], replicas=replicas, ready=0
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = self.path.split("?", 1)[0]
                if fake.delay:
                    time.sleep(fake.delay)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, _status(401, "", ""))
                for kind, pattern in ROUTES.items():
                    match = pattern.match(path)
                    if match:
                        status, body, headers = fake._answer(kind, match.group(1))
                        if status == 0:
                            return self._reset()
                        return self._send(status, body, headers)
                return self._send(404, _status(404, path, ""))

            def _send(self, status: int, body: dict[str, Any], headers=None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client timed out and hung up: expected

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends RST, which the client sees as a connection reset.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                self.connection.close()

        return Handler


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["metadata"]["namespace"], obj["metadata"]["name"])


def _status(code: int, kind: str, namespace: str) -> dict[str, Any]:
    """A v1 Status body, worded like the API server's."""
    messages = {
        401: ("Unauthorized", "Unauthorized"),
        403: (
            "Forbidden",
            f'{kind} is forbidden: User "system:serviceaccount:ci:registry" cannot list '
            f'resource "{kind}" in API group "{"apps" if kind == "deployments" else ""}" '
            f'in the namespace "{namespace}"',
        ),
        404: ("NotFound", f"the server could not find the requested resource {kind}"),
        429: ("TooManyRequests", "too many requests, please try again later"),
    }
    reason, message = messages.get(code, ("InternalError", "Internal error occurred: etcd timeout"))
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
