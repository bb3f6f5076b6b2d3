"""The Kubernetes API server of the benchmark, in its own process.

``python -m benchmarks.kube_server MODELS.json KUBECONFIG`` serves a healthy
Deployment and Service for every ``[model, environment, namespace]`` in the
file (tests/fakes/kube.py's objects and wire format), writes a kubeconfig that
points at it, prints "ready" and serves until stdin closes. Its own process,
so serving does not compete with the measured client for the GIL.
"""

from __future__ import annotations

import json
import socket
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.fakes.kube import LIST_KINDS, FakeKube


class IndexedKube(FakeKube):
    """The fake, with objects indexed by namespace: the tests' fake scans every object
    per request, which at 100,000 models would time the fake instead of the client."""

    def index(self) -> None:
        self.by_namespace: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for kind, objects in self.objects.items():
            grouped = defaultdict(list)
            for (namespace, _), obj in sorted(objects.items()):
                grouped[namespace].append(obj)
            self.by_namespace[kind] = grouped

    def _handler(self) -> type:
        base = super()._handler()

        class Handler(base):
            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without NODELAY every answer waits
                # for the client's delayed ACK (40 ms), which a real API server does not do.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        return Handler

    def _answer(self, kind: str, namespace: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        api_version, list_kind = LIST_KINDS[kind]
        items = self.by_namespace[kind].get(namespace, [])
        body = {"apiVersion": api_version, "kind": list_kind, "metadata": {}, "items": items}
        return 200, body, {}


def main() -> None:
    models_file, kubeconfig = sys.argv[1:3]
    kube = IndexedKube(context="benchmark")
    for model, environment, namespace in json.loads(Path(models_file).read_text()):
        kube.add_model(model, environment, namespace)
    kube.index()
    kube.write_kubeconfig(Path(kubeconfig))
    print("ready", flush=True)
    sys.stdin.read()  # until the harness closes the pipe (or exits)
    kube.close()


if __name__ == "__main__":
    main()
