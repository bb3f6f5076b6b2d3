"""List + watch of one kind (Deployments or Services) in one namespace.

An ``Informer`` keeps the objects of its kind and namespace as the API server
last described them, projected to the fields the health rules read. It lists,
then watches from the list's resourceVersion (with bookmarks, so a quiet
namespace's resourceVersion stays recent); it lists again when the watch
answers 410 Gone, when the stream drops, and every ``resync`` seconds whatever
the watch says, so a missed event cannot keep a dead endpoint routable.

While it cannot observe (API server unreachable, 5xx, watch errors) it keeps
the last objects it saw and says so with ``fresh`` False: the controller makes
no decision on missing information.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from reconciler import observe

log = logging.getLogger(__name__)

KINDS = ("deployments", "services")
MAX_BACKOFF = 10.0  # seconds between attempts while the API server fails
READ_SLACK = 15  # seconds a watch may stay silent beyond its timeoutSeconds before we hang up


class Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def project(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The fields ``reconciler.health`` reads, and no more (10,000 full objects cost ~100 MiB).

    An object with a section of the wrong JSON type is kept whole: the health rule names
    the field (health Unknown) instead of the informer failing on it forever.
    """
    try:
        return _project(kind, obj)
    except (AttributeError, TypeError):
        return obj


def _project(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if kind == "services":
        ports = (obj.get("spec") or {}).get("ports") or ()
        return {"spec": {"ports": [{"port": p.get("port")} for p in ports]}}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    conditions = [
        {"type": c.get("type"), "reason": c.get("reason")}
        for c in status.get("conditions") or ()
        if c.get("type") == "Progressing"
    ]
    return {
        "metadata": {"generation": (obj.get("metadata") or {}).get("generation", 0)},
        "spec": {k: spec[k] for k in ("replicas", "paused") if k in spec},
        "status": {
            **{
                k: status[k]
                for k in (
                    "observedGeneration",
                    "replicas",
                    "updatedReplicas",
                    "readyReplicas",
                    "availableReplicas",
                )
                if k in status
            },
            "conditions": conditions,
        },
    }


class Informer:
    """The objects of one kind in one namespace, kept current by list + watch in a thread."""

    def __init__(
        self,
        cluster: observe.Cluster,
        kind: str,
        namespace: str,
        *,
        resync: float,
        on_change: Callable[[], None],
        on_restart: Callable[[str, str], None],
        timeout: float | None = None,
    ) -> None:
        self.cluster = cluster
        self.kind = kind
        self.namespace = namespace
        self.resync = resync
        self.on_change = on_change  # something may have changed: reconcile
        self.on_restart = on_restart  # (kind, why): a watch was restarted by a re-list
        self.timeout = cluster.timeout if timeout is None else timeout
        self.objects: dict[str, dict[str, Any]] = {}  # name -> projected object
        self.synced = False  # listed at least once
        self.fresh = False  # the last list or watch worked: the objects are current
        self.resource_version = ""
        self.outages = 0  # times it lost sight of the API server
        self.thread = threading.Thread(
            target=self.run, name=f"informer-{kind}-{namespace}", daemon=True
        )

    def start(self, stop: threading.Event) -> None:
        self.stop = stop
        self.thread.start()

    def run(self) -> None:
        backoff = 1.0
        relist = True
        resync_at = 0.0
        while not self.stop.is_set():
            try:
                if relist or time.monotonic() >= resync_at:
                    self._list()
                    relist, backoff = False, 1.0
                    resync_at = time.monotonic() + self.resync
                relist = self._watch(resync_at)
            except Gone:
                self.on_restart(self.kind, "resourceVersion expired (410 Gone)")
                relist = True
            except Exception as error:  # noqa: BLE001 (any failure: keep last state, retry)
                self._failed(error)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                relist = True

    def _failed(self, error: Exception) -> None:
        if self.fresh:
            log.warning(
                "cannot observe %s in namespace %s (%s); keeping the last known state",
                self.kind,
                self.namespace,
                _describe(error),
            )
        self.fresh = False
        self.outages += 1
        self.on_restart(self.kind, _describe(error))

    def _list(self) -> None:
        path = observe.LIST_PATHS[self.kind].format(self.namespace)
        body = json.loads(observe.get(self.cluster, path, self.timeout))
        self.objects = {
            item["metadata"]["name"]: project(self.kind, item) for item in body["items"]
        }
        self.resource_version = body["metadata"].get("resourceVersion", "")
        if not self.fresh:
            log.info("observing %s in namespace %s", self.kind, self.namespace)
        self.synced = self.fresh = True
        self.on_change()

    def _watch(self, until: float) -> bool:
        """Follow the watch until ``until``; True when it must be re-listed (it dropped)."""
        seconds = max(1, int(until - time.monotonic()))
        path = (
            observe.LIST_PATHS[self.kind].format(self.namespace)
            + f"?watch=1&allowWatchBookmarks=true&timeoutSeconds={seconds}"
            + f"&resourceVersion={self.resource_version}"
        )
        response = observe.get(self.cluster, path, seconds + READ_SLACK, stream=True)
        try:
            buffer = b""
            for chunk in response.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._event(json.loads(line))
                if self.stop.is_set():
                    return False
        finally:
            response.release_conn()
        if time.monotonic() < until - 1:
            self.on_restart(self.kind, "the watch stream ended early")
            return True
        return False

    def _event(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = version
        if kind == "BOOKMARK":
            return
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.objects.pop(name, None)
        else:
            self.objects[name] = project(self.kind, obj)
        self.on_change()


def _describe(error: Exception) -> str:
    status = getattr(error, "status", None)
    if status:
        return f"the API server answered {status}"
    return f"{type(error).__name__}: {str(error)[:200]}"
