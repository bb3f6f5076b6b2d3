"""A fake Kubernetes API server for the tests: real HTTP, real Kubernetes JSON.

It serves what the registry and its controller read, from state a test sets:
- list and WATCH of apps/v1 Deployments and v1 Services per namespace. Every change
  (``set_deployment``, ``delete_service``, ...) bumps one resourceVersion counter;
  lists carry it in ``metadata.resourceVersion``; ``?watch=true`` streams chunked,
  newline-delimited ``{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}``
  events like the real server (``resourceVersion=`` resumes, ``allowWatchBookmarks``
  adds a BOOKMARK every ``bookmark_interval`` s, ``timeoutSeconds`` ends the stream
  cleanly, a resourceVersion older than the kept history gets an ERROR event with a
  410 Expired Status);
- coordination.k8s.io/v1 Leases (create, get, update with resourceVersion conflicts);
- the service proxy ``/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/...``,
  forwarded to the backend a test sets with ``set_backend`` (tests/fakes/vllm.py).

It counts every request (``calls()`` per list kind and namespace, ``requests_by_kind()``
as list / watch / lease / proxy) and can be told to misbehave: answer 401/403/5xx/429
to lists a number of times (``fail``), reset the connection, answer slowly (``delay``),
turn a deployment ready some seconds from now, drop every open watch
(``drop_watches``), silently not emit the next change (``miss_next_event``), forget
its history (``expire_history``: resuming watches get 410), or go down altogether
(``go_down(503)``, ``go_down(0)`` refuses connections; ``come_up``).
The unpatched ``kubernetes`` client talks to it through a generated kubeconfig.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

TOKEN = "fake-token"
ROUTES = {
    "deployments": re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/deployments$"),
    "services": re.compile(r"^/api/v1/namespaces/([^/]+)/services$"),
}
LIST_KINDS = {"deployments": ("apps/v1", "DeploymentList"), "services": ("v1", "ServiceList")}
OBJECT_KINDS = {"deployments": ("apps/v1", "Deployment"), "services": ("v1", "Service")}
LEASES = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$")
PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")
HISTORY = 10_000  # events kept for resuming watches; a resourceVersion older gets 410
DROP = object()  # put on a watch's queue: reset its connection


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


@dataclass(eq=False)
class Watch:
    """One open watch stream: its events wait on ``events`` for the connection's thread."""

    kind: str
    namespace: str
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)


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
        self.kinds: Counter = Counter()  # "list" / "watch" / "lease" / "proxy" requests
        self.failures: list[Failure] = []
        self.delay = 0.0
        self.revision = 1  # the resourceVersion of the last change
        self.history: deque[tuple[int, str, str, dict[str, Any]]] = deque(maxlen=HISTORY)
        self.compacted = 0  # a watch resuming from before this revision gets 410
        self.watches: list[Watch] = []
        self.bookmark_interval = 1.0  # seconds between BOOKMARK events on a quiet watch
        self.miss_next = False
        self.down_status: int | None = None  # every request answers it; 0: refused
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.lease_conflicts = 0  # lease writes answered 409
        # Called with (method, body) before a lease write is applied, outside the lock:
        # a test can slip another client's write in between to force a 409.
        self.on_lease_write: Callable[[str, dict[str, Any]], None] | None = None
        self.backends: dict[tuple[str, str], str] = {}  # (namespace, service) -> base URL
        self.timers: list[threading.Timer] = []
        # (namespace, name) -> [deployment lists still to answer rolling, finished deployment]
        self.rollouts: dict[tuple[str, str], list[Any]] = {}
        self._listen(0)
        self.url = f"http://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.drop_watches()
        if self.down_status != 0:
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
        self._change("deployments", obj)

    def set_service(self, obj: dict[str, Any]) -> None:
        self._change("services", obj)

    def delete_deployment(self, name: str, namespace: str) -> None:
        self._change("deployments", self.objects["deployments"][(namespace, name)], deleted=True)

    def delete_service(self, name: str, namespace: str) -> None:
        self._change("services", self.objects["services"][(namespace, name)], deleted=True)

    def _change(self, kind: str, obj: dict[str, Any], *, deleted: bool = False) -> None:
        """Store (or delete) ``obj`` under a new resourceVersion and tell the watches."""
        key = _key(obj)
        with self.lock:
            self.revision += 1
            existed = key in self.objects[kind]
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.revision)}}
            if deleted:
                del self.objects[kind][key]
            else:
                self.objects[kind][key] = obj
            if self.miss_next:  # the change happened, no watcher will ever hear of it
                self.miss_next = False
                return
            kind_of_change = "DELETED" if deleted else "MODIFIED" if existed else "ADDED"
            event = {"type": kind_of_change, "object": _typed(kind, obj)}
            if len(self.history) == self.history.maxlen:
                self.compacted = self.history[0][0]
            self.history.append((self.revision, kind, key[0], event))
            for watch in self.watches:
                if (watch.kind, watch.namespace) == (kind, key[0]):
                    watch.events.put(event)

    def ready_after(self, name: str, namespace: str, seconds: float) -> None:
        """Serve ``name`` as rolling out (0 of N available) until ``seconds`` from now.

        Both are changes that watches see (MODIFIED), as from a real rollout.
        """
        finished = self.objects["deployments"][(namespace, name)]
        rolling = deployment(name, namespace, replicas=finished["spec"]["replicas"], ready=0)
        rolling["metadata"]["uid"] = finished["metadata"]["uid"]
        self.set_deployment(rolling)
        timer = threading.Timer(seconds, self.set_deployment, args=(finished,))
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def ready_after_lists(self, name: str, namespace: str, lists: int) -> None:
        """Serve ``name`` as rolling out until ``lists`` deployment lists of its namespace
        have been answered, then as finished: a rollout that ends between two observations
        whatever the machine's speed."""
        finished = self.objects["deployments"][(namespace, name)]
        rolling = deployment(name, namespace, replicas=finished["spec"]["replicas"], ready=0)
        rolling["metadata"]["uid"] = finished["metadata"]["uid"]
        self.set_deployment(rolling)
        with self.lock:
            self.rollouts[(namespace, name)] = [lists, finished]

    def _count_rollouts(self, namespace: str) -> None:
        with self.lock:
            done = []
            for (ns, name), rollout in self.rollouts.items():
                if ns == namespace:
                    rollout[0] -= 1
                    if rollout[0] <= 0:
                        done.append((ns, name))
            finished = [self.rollouts.pop(key)[1] for key in done]
        for obj in finished:
            self.set_deployment(obj)

    def set_backend(self, name: str, namespace: str, url: str | None) -> None:
        """Where the service proxy forwards for Service ``name`` (None: no endpoints)."""
        with self.lock:
            if url is None:
                self.backends.pop((namespace, name), None)
            else:
                self.backends[(namespace, name)] = url.rstrip("/")

    def lease(self, name: str, namespace: str) -> dict[str, Any] | None:
        """The stored Lease (a copy), or None."""
        with self.lock:
            found = self.leases.get((namespace, name))
            return json.loads(json.dumps(found)) if found else None

    # --- misbehaving -------------------------------------------------------------------------

    def fail(
        self, status: int, times: int = 1, kind: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (0: reset).

        ``kind``: "deployments" or "services" (lists; None: either), or "leases".
        """
        with self.lock:
            self.failures.append(Failure(status, times, kind, retry_after))

    def watching(self, kind: str, namespace: str) -> bool:
        """Whether a watch of ``kind`` in ``namespace`` is open: a change made now reaches it
        (a client logs that it observes a kind after its list, before its watch opens)."""
        with self.lock:
            return any(w.kind == kind and w.namespace == namespace for w in self.watches)

    def drop_watches(self) -> None:
        """Reset the connection of every open watch, as a restarting API server does."""
        with self.lock:
            for watch in self.watches:
                watch.events.put(DROP)

    def miss_next_event(self) -> None:
        """The next change is made but never sent to any watch (nor replayed on resume)."""
        with self.lock:
            self.miss_next = True

    def expire_history(self) -> None:
        """Forget every past event: a watch resuming from any resourceVersion seen so far
        gets an ERROR event with a 410 Expired Status, and must list again."""
        with self.lock:
            self.revision += 1
            self.compacted = self.revision
            self.history.clear()

    def go_down(self, status: int = 503) -> None:
        """The API server is down: every request answers ``status`` (0: connections are
        refused, nothing listens on the port). Open watches are dropped."""
        with self.lock:
            self.down_status = status  # first: a watch re-opened after the drop is refused
        self.drop_watches()
        if status == 0:
            self.server.shutdown()
            self.server.server_close()

    def come_up(self) -> None:
        """Serve again (on the same port) after ``go_down``."""
        with self.lock:
            refused, self.down_status = self.down_status == 0, None
        if refused:
            self._listen(self.port)

    # --- counting ----------------------------------------------------------------------------

    def count(self) -> int:
        """List calls so far."""
        with self.lock:
            return len(self.requests)

    def calls(self) -> Counter:
        """List calls by (kind, namespace)."""
        with self.lock:
            return Counter(self.requests)

    def requests_by_kind(self) -> Counter:
        """Requests by what they were: "list", "watch", "lease", "proxy"."""
        with self.lock:
            return Counter(self.kinds)

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
            self.kinds["list"] += 1
            failure = self._take_failure(kind)
            if failure:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after else {}
                return failure.status, _status(failure.status, kind, namespace), headers
            items = [obj for (ns, _), obj in sorted(self.objects[kind].items()) if ns == namespace]
            revision = self.revision
        api_version, list_kind = LIST_KINDS[kind]
        body = {
            "apiVersion": api_version,
            "kind": list_kind,
            "metadata": {"resourceVersion": str(revision)},
            "items": items,
        }
        if kind == "deployments":
            self._count_rollouts(namespace)
        return 200, body, {}

    def _take_failure(self, kind: str) -> Failure | None:
        """The next planned failure for a request of ``kind``, used up by one.

        Failures for any kind (None) apply to lists only; leases fail when named.
        """
        kinds = (None, kind) if kind in LIST_KINDS else (kind,)
        failure = next((f for f in self.failures if f.times and f.kind in kinds), None)
        if failure:
            failure.times -= 1
        return failure

    def _open_watch(
        self, kind: str, namespace: str, resource_version: str | None
    ) -> tuple[list[dict[str, Any]], Watch | None]:
        """The events a new watch starts with, and the Watch (None: the stream ends)."""
        with self.lock:
            self.kinds["watch"] += 1
            if resource_version in (None, "", "0"):  # "any": the current state as ADDED
                start = [
                    {"type": "ADDED", "object": _typed(kind, obj)}
                    for (ns, _), obj in sorted(self.objects[kind].items())
                    if ns == namespace
                ]
            elif int(resource_version) < self.compacted:
                message = f"too old resource version: {resource_version} ({self.compacted})"
                return [{"type": "ERROR", "object": _failure(410, "Expired", message)}], None
            else:
                start = [
                    event
                    for revision, k, ns, event in self.history
                    if revision > int(resource_version) and (k, ns) == (kind, namespace)
                ]
            watch = Watch(kind, namespace)
            self.watches.append(watch)
            return start, watch

    def _bookmark(self, watch: Watch) -> dict[str, Any] | None:
        """A BOOKMARK at the current revision; None while events wait (they go first)."""
        with self.lock:
            if not watch.events.empty():
                return None
            api_version, kind = OBJECT_KINDS[watch.kind]
            metadata = {"resourceVersion": str(self.revision)}
            return {
                "type": "BOOKMARK",
                "object": {"kind": kind, "apiVersion": api_version, "metadata": metadata},
            }

    def _close_watch(self, watch: Watch) -> None:
        with self.lock:
            self.watches.remove(watch)

    def _lease(
        self, method: str, namespace: str, name: str | None, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Create (POST), read (GET) or update (PUT, optimistic on resourceVersion) a Lease."""
        with self.lock:
            self.kinds["lease"] += 1
            failure = self._take_failure("leases")
            if failure:
                verb = {"GET": "get", "POST": "create", "PUT": "update"}[method]
                return failure.status, _status(failure.status, "leases", namespace, verb)
            if method == "POST":
                name = (body.get("metadata") or {}).get("name")
                if not name:
                    return 422, _failure(422, "Invalid", "Lease.coordination.k8s.io is invalid")
                if (namespace, name) in self.leases:
                    message = f'leases.coordination.k8s.io "{name}" already exists'
                    self.lease_conflicts += 1
                    return 409, _failure(409, "AlreadyExists", message)
            current = self.leases.get((namespace, name))
            if method != "POST" and current is None:
                return 404, _failure(
                    404, "NotFound", f'leases.coordination.k8s.io "{name}" not found'
                )
            if method == "GET":
                return 200, current
            invalid = _invalid_lease_spec(body.get("spec") or {})
            if invalid:
                return 400, _failure(400, "BadRequest", invalid)
            expected = (body.get("metadata") or {}).get("resourceVersion")
            if current and expected and expected != current["metadata"]["resourceVersion"]:
                self.lease_conflicts += 1
                message = (
                    f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the '
                    "object has been modified; please apply your changes to the latest version "
                    "and try again"
                )
                return 409, _failure(409, "Conflict", message)
            self.revision += 1
            metadata = current["metadata"] if current else _new_metadata(name, namespace)
            lease = {
                "kind": "Lease",
                "apiVersion": "coordination.k8s.io/v1",
                "metadata": {**metadata, "resourceVersion": str(self.revision)},
                "spec": body.get("spec") or {},
            }
            self.leases[(namespace, name)] = lease
            return (201 if method == "POST" else 200), lease

    def _proxy(
        self, namespace: str, target: str, path: str, query: str, headers: dict[str, str]
    ) -> tuple[int, bytes, str]:
        """Forward to the Service's backend as the API server's service proxy does."""
        parts = target.split(":")
        if parts[0] in ("http", "https") and len(parts) == 3:
            parts = parts[1:]  # scheme:name:port
        name, port = parts[0], parts[1] if len(parts) > 1 else ""
        with self.lock:
            self.kinds["proxy"] += 1
            svc = self.objects["services"].get((namespace, name))
            backend = self.backends.get((namespace, name))
        if svc is None:
            return _json(404, _failure(404, "NotFound", f'services "{name}" not found'))
        ports = svc["spec"]["ports"]
        if port and not any(port in (str(p["port"]), p.get("name")) for p in ports):
            message = f'no service port "{port}" found for service "{name}"'
            return _json(503, _failure(503, "ServiceUnavailable", message))
        if backend is None:
            message = f'no endpoints available for service "{name}"'
            return _json(503, _failure(503, "ServiceUnavailable", message))
        # The API server consumes the caller's credentials: Authorization is not forwarded.
        forwarded = {k: v for k, v in headers.items() if k.lower() in ("accept", "user-agent")}
        request = urllib.request.Request(
            backend + (path or "/") + (f"?{query}" if query else ""), headers=forwarded
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read(), response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get_content_type()
        except OSError as error:
            message = f"error trying to reach service: {error}"
            return _json(503, _failure(503, "ServiceUnavailable", message))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._dispatch("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._dispatch("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._dispatch("PUT")

            def _dispatch(self, method: str) -> None:
                url = urlsplit(self.path)
                url = url._replace(path=unquote(url.path))  # clients escape "name:port"
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if fake.delay:
                    time.sleep(fake.delay)
                body = self._body()
                if fake.down_status == 0:  # a connection kept alive from before going down
                    return self._reset()
                if fake.down_status:
                    message = "the server is currently unable to handle the request"
                    down = _failure(fake.down_status, "ServiceUnavailable", message)
                    return self._send(fake.down_status, down)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._send(401, _status(401, "", ""))
                if body is None:
                    return self._send(400, _failure(400, "BadRequest", "invalid JSON body"))
                lease = LEASES.match(url.path)
                if lease and (method == "POST") == (lease.group(2) is None):
                    if method != "GET" and fake.on_lease_write:
                        fake.on_lease_write(method, body)
                    status, answer = fake._lease(method, lease.group(1), lease.group(2), body)
                    return self._reset() if status == 0 else self._send(status, answer)
                if method != "GET":
                    return self._send(405, _failure(405, "MethodNotAllowed", method))
                for kind, pattern in ROUTES.items():
                    match = pattern.match(url.path)
                    if match and _flag(query.get("watch")):
                        return self._watch(kind, match.group(1), query)
                    if match:
                        status, answer, headers = fake._answer(kind, match.group(1))
                        if status == 0:
                            return self._reset()
                        return self._send(status, answer, headers)
                proxy = PROXY.match(url.path)
                if proxy:
                    namespace, target, path = proxy.groups()
                    status, data, content_type = fake._proxy(
                        namespace, target, path, url.query, dict(self.headers)
                    )
                    return self._send_bytes(status, data, content_type)
                return self._send(404, _status(404, url.path, ""))

            def _body(self) -> dict[str, Any] | None:
                length = int(self.headers.get("Content-Length") or 0)
                if not length:
                    return {}
                try:
                    return json.loads(self.rfile.read(length))
                except ValueError:
                    return None

            def _watch(self, kind: str, namespace: str, query: dict[str, str]) -> None:
                version = query.get("resourceVersion")
                if version not in (None, "") and not version.isdigit():
                    message = f"resourceVersion: Invalid value: {version!r}"
                    return self._send(400, _failure(400, "BadRequest", message))
                events, watch = fake._open_watch(kind, namespace, version)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for event in events:
                        self._chunk(event)
                    if watch is not None:
                        self._stream(watch, query)
                    self.wfile.write(b"0\r\n\r\n")  # the end of a stream that ends cleanly
                except _Dropped:
                    self._reset()
                except OSError:  # the client went away
                    self.close_connection = True
                finally:
                    if watch is not None:
                        fake._close_watch(watch)

            def _stream(self, watch: Watch, query: dict[str, str]) -> None:
                """Events as they happen, bookmarks when quiet, until timeoutSeconds."""
                timeout = query.get("timeoutSeconds")
                end = time.monotonic() + float(timeout) if timeout else None
                bookmarks = _flag(query.get("allowWatchBookmarks"))
                next_bookmark = time.monotonic() + fake.bookmark_interval
                while True:
                    now = time.monotonic()
                    if end is not None and now >= end:
                        return
                    wakes = [t for t in (end, next_bookmark if bookmarks else None) if t]
                    try:
                        event = watch.events.get(
                            timeout=max(min(wakes) - now, 0) if wakes else None
                        )
                    except queue.Empty:
                        if bookmarks and time.monotonic() >= next_bookmark:
                            bookmark = fake._bookmark(watch)
                            if bookmark:
                                self._chunk(bookmark)
                            next_bookmark = time.monotonic() + fake.bookmark_interval
                        continue
                    if event is DROP:
                        raise _Dropped
                    self._chunk(event)

            def _chunk(self, event: dict[str, Any]) -> None:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _send(self, status: int, body: dict[str, Any], headers=None) -> None:
                self._send_bytes(status, json.dumps(body).encode(), "application/json", headers)

            def _send_bytes(self, status: int, data: bytes, content_type: str, headers=None):
                send(self, status, data, content_type, headers)

            def _reset(self) -> None:
                # SO_LINGER 0: close() sends RST, which the client sees as a connection reset.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                self.connection.close()

        return Handler


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, and no access log in pytest's output."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    """Answer one request with a body of known length (this fake's and tests/fakes/vllm.py's)."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    try:
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True  # the client timed out and hung up: expected


class _Dropped(Exception):
    """A test dropped the watch: reset its connection."""


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["metadata"]["namespace"], obj["metadata"]["name"])


def _flag(value: str | None) -> bool:
    """A query boolean as the API server parses it (strconv.ParseBool)."""
    return (value or "").lower() in ("1", "t", "true")


def _typed(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An object as a watch event carries it: with its kind and apiVersion."""
    api_version, object_kind = OBJECT_KINDS[kind]
    return {"kind": object_kind, "apiVersion": api_version, **obj}


def _new_metadata(name: str, namespace: str) -> dict[str, Any]:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid4()),
        "creationTimestamp": created,
    }


def _invalid_lease_spec(spec: dict[str, Any]) -> str | None:
    """Why the API server would refuse this Lease spec, or None."""
    for name in ("acquireTime", "renewTime"):
        value = spec.get(name)
        if value is not None and not MICRO_TIME.match(str(value)):
            return (
                f'Lease in version "v1" cannot be handled as a Lease: parsing time "{value}" '
                'as "2006-01-02T15:04:05.000000Z07:00": cannot parse'
            )
    for name in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            return f"spec.{name}: Invalid value: {value!r}: must be a non-negative integer"
    return None


def _json(status: int, body: dict[str, Any]) -> tuple[int, bytes, str]:
    return status, json.dumps(body).encode(), "application/json"


def _failure(code: int, reason: str, message: str) -> dict[str, Any]:
    """A v1 Status body."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _status(code: int, kind: str, namespace: str, verb: str = "list") -> dict[str, Any]:
    """A v1 Status body for a refused request, worded like the API server's."""
    group = {"deployments": "apps", "leases": "coordination.k8s.io"}.get(kind, "")
    messages = {
        401: ("Unauthorized", "Unauthorized"),
        403: (
            "Forbidden",
            f'{kind} is forbidden: User "system:serviceaccount:ci:registry" cannot {verb} '
            f'resource "{kind}" in API group "{group}" '
            f'in the namespace "{namespace}"',
        ),
        404: ("NotFound", f"the server could not find the requested resource {kind}"),
        429: ("TooManyRequests", "too many requests, please try again later"),
    }
    reason, message = messages.get(code, ("InternalError", "Internal error occurred: etcd timeout"))
    return _failure(code, reason, message)
