"""Observing model deployments in Kubernetes: read-only, a fixed number of round trips.

For everything a plan needs this makes ONE list call per namespace and kind
(Deployments, Services), whatever the number of models, and turns the
answers into a ``Health`` per model with the rules in ``reconciler.health``.
The official client is imported only here, and only when a cluster is
configured, so that commands that never observe start fast.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry import names
from registry.entry import Entry
from registry.errors import ClusterError
from registry.redact import redact_url

if TYPE_CHECKING:
    from registry.settings import Settings

from . import bounded_read, gcpause
from .health import Health, model_health
from .safe_text import excerpt

DEFAULT_TIMEOUT = 10.0  # seconds, for connecting and for reading each answer
RETRIES = 3  # extra attempts on 429, 5xx and connection resets
BACKOFF = 0.5  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 10.0  # never sleep longer than this on a server's Retry-After
SHOWN_CHARS = 300  # of a context name, and of the kubernetes client's reason, in a message
LIST_PATHS = {
    "deployments": "/apis/apps/v1/namespaces/{}/deployments",
    "services": "/api/v1/namespaces/{}/services",
}
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


@dataclass(frozen=True)
class KubeSource:
    """Where the cluster's configuration comes from, as the environment says."""

    # KUBECONFIG: os.pathsep-separated files; None: ~/.kube/config. Never shown: it may
    # hold a kubeconfig's text (a GitLab variable of type Variable, not File).
    kubeconfig: str | None = field(default=None, repr=False)
    in_pod: bool = False  # KUBERNETES_SERVICE_HOST is set
    named_by: str | None = None  # "--kubeconfig" when the operator named the file; None: KUBECONFIG
    timeout: float = DEFAULT_TIMEOUT  # seconds to connect, and for each answer (--request-timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> KubeSource:
        return cls(settings.kubeconfig, bool(settings.kubernetes_service_host))


@dataclass(frozen=True)
class Cluster:
    """A connected API client and a printable name for messages."""

    name: str  # "context prod-cluster (https://...)" or "in-cluster (https://...)"
    api: Any  # kubernetes.client.ApiClient
    in_cluster: bool = False  # a pod's service account, not a kubeconfig
    timeout: float = DEFAULT_TIMEOUT  # seconds to connect, and for each answer


def kubeconfig_status(source: KubeSource) -> str | None:
    """None when a cluster is configured; else why not (the line said once by the CLI).

    The value of KUBECONFIG is never quoted: it may be a kubeconfig's text, token included.
    """
    if _kubeconfig_paths(source) or _in_cluster(source):
        return None
    named_by = source.named_by or "KUBECONFIG"
    if source.kubeconfig and _holds_text(source.kubeconfig):
        return (
            f"no kubeconfig found ({named_by} holds a kubeconfig's text, not the path of a "
            "file; in GitLab CI/CD make it a variable of type File, whose value is a path)"
        )
    if source.kubeconfig:
        return f"no kubeconfig found ({named_by} names no file that exists)"
    return "no kubeconfig found (KUBECONFIG unset, no ~/.kube/config, not in a cluster)"


def _holds_text(kubeconfig: str) -> bool:
    return "\n" in kubeconfig or "apiVersion" in kubeconfig


def _kubeconfig_paths(source: KubeSource) -> list[str]:
    configured = source.kubeconfig
    if configured and _holds_text(configured):
        return []
    candidates = configured.split(os.pathsep) if configured else [str(Path.home() / ".kube/config")]
    return [path for path in candidates if path and _is_file(path)]


def _is_file(path: str) -> bool:
    try:
        return Path(path).is_file()
    except OSError:  # a name too long for a path (a token), no permission: not a usable file
        return False


def _in_cluster(source: KubeSource) -> bool:
    return source.in_pod and IN_CLUSTER_TOKEN.is_file()


def connect(source: KubeSource, context: str | None = None) -> Cluster | None:
    """A client for ``context`` (default: the kubeconfig's current context, else in-cluster).

    Returns None when no cluster is configured at all.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    try:
        if _kubeconfig_paths(source):
            paths = os.pathsep.join(_kubeconfig_paths(source))
            _, current = config.list_kube_config_contexts(config_file=paths)
            config.load_kube_config(
                config_file=paths, context=context, client_configuration=configuration
            )
            label = f"context {context or current['name']}"
        elif _in_cluster(source):
            config.load_incluster_config(client_configuration=configuration)
            label = "in-cluster"
        else:
            return None
    except (ConfigException, ValueError) as error:
        # ValueError: a server URL urlsplit rejects; its text is not shown (it may hold a
        # password), only that the URL is malformed.
        reason = error if isinstance(error, ConfigException) else "its server URL is malformed"
        # Both quote the context as given (--kube-context, REGISTRY_KUBE_CONTEXT): cut short.
        reason = excerpt(str(reason), SHOWN_CHARS, quote=False)
        named = f" context {excerpt(context, SHOWN_CHARS)}" if context else ""
        raise ClusterError(
            f"cannot use the kubeconfig{named}: {reason}. "
            "Check KUBECONFIG and the context name (kubectl config get-contexts), or pass "
            "--no-kube to skip health checks"
        ) from None
    # Our own loop retries what is worth retrying; urllib3's silent retries would hide it.
    configuration.retries = False
    host = redact_url(configuration.host)  # never a password in a label
    api = client.ApiClient(configuration)
    return Cluster(f"{label} ({host})", api, label == "in-cluster", source.timeout)


def observe_health(
    entries: Sequence[Entry],
    *,
    source: KubeSource,
    context: str | None = None,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
) -> Mapping[str, Health] | None:
    """Health of each entry's Deployment and Service, keyed by model name.

    None when no cluster is configured at all (the caller says so once).
    Raises ``ClusterError`` when the cluster cannot be read.
    """
    cluster = connect(source, context)
    if cluster is None:
        return None
    with gcpause.paused():  # the answers decode to a few dicts per model; see gcpause
        return _observe(cluster, entries, cluster.timeout, retries, backoff)


def _observe(
    cluster: Cluster, entries: Sequence[Entry], timeout: float, retries: int, backoff: float
) -> dict[str, Health]:
    with cluster.api:
        namespaces = sorted({entry.namespace for entry in entries})
        deployments: dict[tuple[str, str], dict[str, Any]] = {}
        services: dict[tuple[str, str], dict[str, Any]] = {}
        for namespace in namespaces:
            for kind, found in (("deployments", deployments), ("services", services)):
                items = _list(cluster, kind, namespace, timeout, retries, backoff)
                found.update({(namespace, item["metadata"]["name"]): item for item in items})
        checked_at = datetime.now(UTC)
    health = {}
    for entry in entries:
        name = names.service_name(entry.model_name, entry.environment)
        key = (entry.namespace, name)
        observed = model_health(
            deployments.get(key),
            services.get(key),
            name=name,
            namespace=entry.namespace,
            port=names.endpoint_port(entry.endpoint),
        )
        health[entry.model_name] = Health(
            observed.status, observed.reason, observed.ready_replicas, observed.replicas, checked_at
        )
    return health


def _list(
    cluster: Cluster, kind: str, namespace: str, timeout: float, retries: int, backoff: float
) -> list[dict[str, Any]]:
    """One list call, retried with backoff on 429, 5xx and connection resets."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError, SSLError

    verb = f"cannot list {kind} in namespace {namespace}"
    delay, attempt = backoff, 0
    while True:
        last = attempt == retries
        try:
            return json.loads(get(cluster, LIST_PATHS[kind].format(namespace), timeout))["items"]
        except SSLError as error:  # what the client reported as status 0 (see _refusal)
            refused = ApiException(0, "\n".join([type(error).__name__, str(error)]))
            raise ClusterError(_refusal(verb, cluster, refused)) from None
        except ApiException as error:
            if error.status == 429 or error.status >= 500:
                if last:
                    raise ClusterError(
                        f"{verb}: the cluster {cluster.name} answered {error.status} "
                        f"({_api_message(error)}) {retries + 1} times. It is overloaded or "
                        "failing; try again later, or pass --no-kube to skip health checks"
                    ) from None
                pause = _retry_after(error) or delay
            else:
                raise ClusterError(_refusal(verb, cluster, error)) from None
        except ReadTimeoutError:
            raise ClusterError(
                f"{verb}: the cluster {cluster.name} did not answer within {timeout:g} s. "
                "Check the cluster's health and your network, or pass --no-kube to skip "
                "health checks"
            ) from None
        except ProtocolError as error:
            if last:
                raise ClusterError(
                    f"{verb}: the connection to the cluster {cluster.name} was reset "
                    f"{retries + 1} times ({_cause(error)}). Check the network between here "
                    "and the API server, or pass --no-kube to skip health checks"
                ) from None
            pause = delay
        except HTTPError as error:  # refused, name not resolved, connect timeout, TLS
            raise ClusterError(
                f"{verb}: the cluster {cluster.name} is unreachable ({_cause(error)}). "
                "Check the kubeconfig context and that the API server is reachable from here, "
                "or pass --no-kube to skip health checks"
            ) from None
        time.sleep(pause)
        delay, attempt = delay * 2, attempt + 1


def get(
    cluster: Cluster, path: str, timeout: float, *, stream: bool = False, limit: int | None = None
) -> Any:
    """GET ``path`` with the client's TLS, proxy and credentials; the body, or ApiException.

    ``stream``: the open urllib3 response instead of the body (a watch).
    ``limit``: an answer we do not control (an endpoint's, through the service proxy):
    ``timeout`` bounds the whole request, and past ``limit`` bytes
    ``bounded_read.AnswerTooLarge`` is raised.

    The generated API classes are bypassed on purpose: importing them loads hundreds
    of model classes and every call is validated, which doubled the cost of observing
    10,000 models over the raw list calls. Only the JSON is needed here.
    """
    from kubernetes.client.exceptions import ApiException
    from urllib3 import Timeout

    configuration = cluster.api.configuration
    headers = {**cluster.api.default_headers, "Accept": "application/json"}
    for auth in configuration.auth_settings().values():  # the bearer token, refreshed
        if auth["in"] == "header" and auth["value"]:
            headers[auth["key"]] = auth["value"]
    at = time.monotonic() + timeout  # with limit: the whole request's
    response = cluster.api.rest_client.pool_manager.request(
        "GET",
        configuration.host + path,
        headers=headers,
        timeout=Timeout(total=timeout) if limit else Timeout(connect=timeout, read=timeout),
        retries=False,
        preload_content=not stream and not limit,
    )
    if limit:
        with bounded_read.deadline(at, response.shutdown, path):
            body = bounded_read.read_capped(response, limit)
        if not 200 <= response.status <= 299:
            raise ApiException(http_resp=response, body=body.decode(errors="replace"))
        return body
    if not 200 <= response.status <= 299:
        if stream:
            response.read()
        raise ApiException(http_resp=response)
    return response if stream else response.data


def _refusal(verb: str, cluster: Any, error: Any) -> str:
    if not error.status:  # the client reports TLS failures as status 0
        return (
            f"{verb}: cannot talk to the cluster {cluster.name} ({error.reason}). Check the "
            "kubeconfig's server and certificate authority, or pass --no-kube to skip health "
            "checks"
        )
    if error.status == 401:
        return (
            f"{verb}: the cluster {cluster.name} did not accept our credentials (401: "
            f"{_api_message(error)}). Renew the kubeconfig's token or certificate, or pass "
            "--no-kube to skip health checks"
        )
    if error.status == 403:
        return (
            f"{verb}: the cluster {cluster.name} forbids it (403: {_api_message(error)}). "
            "Grant the account get and list on deployments and services in this namespace "
            "(see examples/kubernetes/rbac.yaml), or pass --no-kube to skip health checks"
        )
    return (
        f"{verb}: the cluster {cluster.name} answered {error.status} ({_api_message(error)}). "
        "Check the kubeconfig context, or pass --no-kube to skip health checks"
    )


def _api_message(error: Any) -> str:
    """The ``message`` of a Kubernetes Status body, else the HTTP reason."""
    try:
        return json.loads(error.body)["message"]
    except (TypeError, ValueError, KeyError):
        return str(error.reason or "no reason given")


def _retry_after(error: Any) -> float | None:
    """The server's Retry-After in seconds (capped), if it sent one."""
    header = (error.headers or {}).get("Retry-After")
    return min(float(header), MAX_RETRY_AFTER) if header and header.isdigit() else None


def _cause(error: BaseException) -> str:
    # urllib3 wraps the socket error (connection refused, name resolution) a level or two down.
    reason = getattr(error, "reason", None) or error.__cause__ or error
    return str(reason).split(": ", 1)[-1] if ": " in str(reason) else str(reason)
