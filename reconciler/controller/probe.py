"""Verifying an endpoint with vLLM's OpenAI-compatible ``GET /v1/models``.

An entry is routable only when its endpoint answers with the entry's model
name among ``data[].id``. ``direct`` calls ``http://{endpoint}/v1/models``
(inside the cluster); ``proxy`` goes through the API server's service proxy
with the kubeconfig's credentials (outside it). The API server uses the
``Authorization`` header for itself, so ``VLLM_API_KEY`` is sent only directly.
The timeout bounds each probe as a whole, and its answer is capped (an endpoint's
answer is hostile input; see ``bounded_read``).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from registry import names
from registry.entry import Entry

from .. import bounded_read, observe
from ..safe_text import excerpt

WORKERS = 16  # probes in flight at once
SHOWN_IDS = 10  # model ids a verdict names (an answer may list thousands)
ID_CHARS = 100  # characters of each
ANSWER_LIMIT = 1 << 20  # bytes of an answer read; vLLM lists a model in a few hundred


@dataclass(frozen=True)
class Probe:
    """A probe's verdict: ``reason`` None when the endpoint serves the model.

    ``conclusive`` False: the answer says nothing about the endpoint (the probe
    was refused credentials, or its name did not resolve), so no transition may
    follow from it.
    """

    reason: str | None
    conclusive: bool = True

    @property
    def ok(self) -> bool:
        return self.reason is None and self.conclusive


class Prober:
    def __init__(
        self,
        *,
        via: str,
        cluster: observe.Cluster | None,
        timeout: float,
        api_key: str | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.via = via
        self.cluster = cluster
        self.timeout = timeout
        self.headers = {"Accept": "application/json"}
        if api_key and via == "direct":
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="probe")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def probe_all(self, entries: Iterable[Entry]) -> dict[tuple[str, str, str], Probe]:
        """Probe ``entries`` concurrently; keyed by (environment, model, endpoint)."""
        entries = list(entries)
        verdicts = self.pool.map(self.probe, entries)
        pairs = zip(entries, verdicts, strict=True)
        return {(e.environment, e.model_name, e.endpoint): v for e, v in pairs}

    def probe(self, entry: Entry) -> Probe:
        try:
            status, body = self._get(entry)
        except Exception as error:  # noqa: BLE001 (every failure is a verdict)
            return self._failure(error)
        if status in (401, 403):
            how = "set VLLM_API_KEY" if self.via == "direct" else "use --probe-via direct"
            return Probe(f"endpoint refused the probe ({status}); {how}", conclusive=False)
        if status != 200:
            return Probe(f"endpoint answered {status} to GET /v1/models")
        return Probe(served(body, entry.model_name))

    def _get(self, entry: Entry) -> tuple[int, bytes]:
        if self.via == "direct":
            return self._get_directly(entry)
        from kubernetes.client.exceptions import ApiException

        service = names.service_name(entry.model_name, entry.environment)
        port = names.endpoint_port(entry.endpoint)
        path = f"/api/v1/namespaces/{entry.namespace}/services/{service}:{port}/proxy/v1/models"
        try:
            return 200, observe.get(self.cluster, path, self.timeout, limit=ANSWER_LIMIT)
        except ApiException as error:
            return error.status, error.body or b""

    def _get_directly(self, entry: Entry) -> tuple[int, bytes]:
        # A connection of its own: the deadline shuts its socket down, from the connect
        # on (headers can trickle too). Nothing is lost without a pool: a round comes
        # long after vLLM's keep-alive (5 s) has closed the last one.
        from urllib3.connection import HTTPConnection

        at = time.monotonic() + self.timeout
        host, _, port = entry.endpoint.rpartition(":")
        connection = HTTPConnection(host, int(port), timeout=self.timeout)
        try:
            connection.connect()
            cut = partial(connection.sock.shutdown, socket.SHUT_RDWR)
            with bounded_read.deadline(at, cut, entry.endpoint):
                connection.request("GET", "/v1/models", headers=self.headers, preload_content=False)
                response = connection.getresponse()
                return response.status, bounded_read.read_capped(response, ANSWER_LIMIT)
        finally:
            connection.close()

    def _failure(self, error: Exception) -> Probe:
        from urllib3.exceptions import (
            ConnectTimeoutError,
            MaxRetryError,
            NameResolutionError,
            NewConnectionError,
            ReadTimeoutError,
        )

        if isinstance(error, bounded_read.AnswerTooLarge):
            return Probe(f"endpoint answered GET /v1/models with over {error.limit >> 20} MiB")
        cause = error.reason if isinstance(error, MaxRetryError) else error
        if isinstance(cause, ReadTimeoutError):
            return Probe(f"endpoint did not answer in {self.timeout:g} s")
        if isinstance(cause, NameResolutionError):
            # Kubernetes' observation says whether the Service exists; a name that does not
            # resolve says only where the probe runs (direct outside the cluster: no
            # Service name resolves) or that cluster DNS fails: nothing of the endpoint.
            return Probe("endpoint's host name does not resolve", conclusive=False)
        # Through the proxy, not reaching the API server says nothing about the endpoint.
        conclusive = self.via == "direct"
        if isinstance(cause, NewConnectionError):  # first: urllib3 2 derives it from the next
            return Probe("endpoint refused the connection", conclusive)
        if isinstance(cause, ConnectTimeoutError):
            return Probe(f"endpoint did not accept a connection in {self.timeout:g} s", conclusive)
        return Probe(f"endpoint could not be reached ({type(cause).__name__})", conclusive)


def served(body: bytes, model_name: str) -> str | None:
    """None when ``body`` (a /v1/models answer) lists ``model_name``; else why not."""
    try:
        data: Any = json.loads(body)
        ids = [str(item["id"]) for item in data["data"]]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: '[[[[...'
        return "endpoint did not answer GET /v1/models in the OpenAI format"
    if model_name in ids:
        return None
    # The endpoint's own words: escaped (a NUL or a lone surrogate cannot be stored, and
    # would stop every write of the environment; an ESC must not reach a log) and few.
    shown = ", ".join(excerpt(i, ID_CHARS, quote=False) for i in ids[:SHOWN_IDS])
    more = f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return f"endpoint serves [{shown}{more}], not {model_name}"
