"""The fake API server's watches, leases and service proxy, and the fake vLLM server.

The controller's tests trust these fakes to behave like the real servers, so the
wire format is checked here: with the unpatched ``kubernetes`` client where it has
an API for it, and as raw HTTP where the exact bytes matter.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from reconciler import observe
from tests.fakes.kube import TOKEN, FakeKube, deployment
from tests.fakes.vllm import FakeVLLM
from tests.helpers import kube_source

ENV = "production"
DEPLOYMENTS = "/apis/apps/v1/namespaces/system/deployments"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/system/leases"


def get(kube: FakeKube, path: str, timeout: float = 10) -> dict:
    request = urllib.request.Request(kube.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def watch(kube: FakeKube, query: str, timeout: float = 10) -> Iterator[dict]:
    """The events of a raw watch of system's deployments, one per line as sent."""
    request = urllib.request.Request(
        f"{kube.url}{DEPLOYMENTS}?watch=true&{query}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        assert response.headers["Transfer-Encoding"] == "chunked"
        for line in response:
            yield json.loads(line)


def collect(events: Iterator[dict]) -> queue.Queue:
    """Read ``events`` in a thread; the queue gets each event, then the end (None) or
    the exception that ended the stream."""
    found: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for event in events:
                found.put(event)
            found.put(None)
        except Exception as error:  # noqa: BLE001 (handed to the test to assert on)
            found.put(error)

    threading.Thread(target=read, daemon=True).start()
    return found


def next_event(found: queue.Queue, skip_bookmarks: bool = True):
    while True:
        event = found.get(timeout=10)
        if not (skip_bookmarks and isinstance(event, dict) and event["type"] == "BOOKMARK"):
            return event


def api():
    return observe.connect(kube_source()).api


# --- lists and watches ---------------------------------------------------------------------


def test_every_change_bumps_the_resource_version_lists_carry(kube: FakeKube):
    first = int(get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"])
    kube.add_model("llama-2-7b", ENV)  # a deployment and a service: two changes
    listed = get(kube, DEPLOYMENTS)

    assert int(listed["metadata"]["resourceVersion"]) == first + 2
    assert listed["items"][0]["metadata"]["resourceVersion"] == str(first + 1)


def test_watch_streams_added_modified_deleted_from_a_resource_version(kube: FakeKube):
    kube.add_model("before", ENV)  # older than the watch: not sent again
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    found = collect(watch(kube, f"resourceVersion={version}"))

    kube.add_model("llama-2-7b", ENV)
    kube.set_deployment(deployment("llama-2-7b-production", "system", ready=0))
    kube.delete_deployment("llama-2-7b-production", "system")

    events = [next_event(found) for _ in range(3)]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert {e["object"]["metadata"]["name"] for e in events} == {"llama-2-7b-production"}
    assert (events[0]["object"]["kind"], events[0]["object"]["apiVersion"]) == (
        "Deployment",
        "apps/v1",
    )
    assert "readyReplicas" not in events[1]["object"]["status"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(version)


def test_watch_resumes_from_a_resource_version_with_the_events_after_it(kube: FakeKube):
    kube.add_model("a", ENV)
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    kube.add_model("b", ENV)
    kube.add_model("c", ENV)

    found = collect(watch(kube, f"resourceVersion={version}&timeoutSeconds=1"))

    assert [next_event(found)["object"]["metadata"]["name"] for _ in range(2)] == [
        "b-production",
        "c-production",
    ]
    assert next_event(found) is None  # timeoutSeconds ends the stream cleanly


def test_watch_without_a_resource_version_starts_with_the_current_state(kube: FakeKube):
    kube.add_model("a", ENV)
    found = collect(watch(kube, "timeoutSeconds=1"))

    event = next_event(found)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a-production")
    assert next_event(found) is None


def test_a_quiet_watch_gets_bookmarks_at_the_current_resource_version(kube: FakeKube):
    kube.bookmark_interval = 0.05
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    found = collect(watch(kube, f"resourceVersion={version}&allowWatchBookmarks=true"))
    kube.set_service({"metadata": {"name": "other", "namespace": "system"}, "spec": {}})

    bookmark = next_event(found, skip_bookmarks=False)
    while bookmark["object"]["metadata"]["resourceVersion"] == version:
        bookmark = next_event(found, skip_bookmarks=False)  # one sent before the change
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"] == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": str(int(version) + 1)},
    }
    kube.drop_watches()


def test_no_bookmarks_unless_asked(kube: FakeKube):
    kube.bookmark_interval = 0.01
    found = collect(watch(kube, "resourceVersion=1&timeoutSeconds=0.3"))

    assert next_event(found, skip_bookmarks=False) is None


def test_a_too_old_resource_version_gets_an_error_event_with_410(kube: FakeKube):
    kube.add_model("a", ENV)
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    kube.expire_history()

    events = list(watch(kube, f"resourceVersion={version}"))

    assert events == [
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {version} ({int(version) + 1})",
                "reason": "Expired",
                "code": 410,
            },
        }
    ]
    fresh = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    found = collect(watch(kube, f"resourceVersion={fresh}&timeoutSeconds=0.2"))
    assert next_event(found) is None  # a fresh list's version is accepted again


def test_dropped_watches_see_their_connection_reset(kube: FakeKube):
    found = collect(watch(kube, "resourceVersion=1"))
    kube.add_model("a", ENV)
    assert next_event(found)["type"] == "ADDED"

    kube.drop_watches()

    ended = next_event(found)
    assert isinstance(ended, OSError | urllib.error.URLError | ValueError)


def test_a_missed_event_is_never_sent_but_the_list_has_it(kube: FakeKube):
    kube.add_model("a", ENV)
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    found = collect(watch(kube, f"resourceVersion={version}"))

    kube.miss_next_event()
    kube.set_deployment(deployment("a-production", "system", ready=0))  # missed
    kube.add_model("b", ENV)

    assert next_event(found)["object"]["metadata"]["name"] == "b-production"
    listed = {d["metadata"]["name"]: d for d in get(kube, DEPLOYMENTS)["items"]}
    assert "readyReplicas" not in listed["a-production"]["status"]
    resumed = collect(watch(kube, f"resourceVersion={version}&timeoutSeconds=0.5"))
    assert next_event(resumed)["object"]["metadata"]["name"] == "b-production"
    assert next_event(resumed) is None  # a resumed watch does not replay it either
    kube.drop_watches()


def test_ready_after_is_seen_by_watches(kube: FakeKube):
    kube.add_model("a", ENV)
    version = get(kube, DEPLOYMENTS)["metadata"]["resourceVersion"]
    found = collect(watch(kube, f"resourceVersion={version}"))

    kube.ready_after("a-production", "system", 0.2)

    rolling, finished = next_event(found), next_event(found)
    assert "readyReplicas" not in rolling["object"]["status"]
    assert finished["object"]["status"]["readyReplicas"] == 1
    kube.drop_watches()


def test_the_kubernetes_client_watch_reads_the_stream(kube: FakeKube):
    from kubernetes import client, watch

    apps = client.AppsV1Api(api())
    listed = apps.list_namespaced_deployment("system")
    stream = watch.Watch().stream(
        apps.list_namespaced_deployment,
        "system",
        resource_version=listed.metadata.resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=2,
    )
    found = collect(stream)
    kube.add_model("llama-2-7b", ENV, ready=0)

    event = next_event(found)
    assert event["type"] == "ADDED"
    assert event["object"].metadata.name == "llama-2-7b-production"
    assert event["object"].status.ready_replicas is None


def test_api_server_down_answers_503_then_comes_back(kube: FakeKube):
    found = collect(watch(kube, "resourceVersion=1"))
    kube.add_model("a", ENV)
    assert next_event(found)["type"] == "ADDED"

    kube.go_down(503)

    assert isinstance(next_event(found), OSError | urllib.error.URLError | ValueError)
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(kube, DEPLOYMENTS)
    assert refused.value.code == 503
    kube.come_up()
    assert get(kube, DEPLOYMENTS)["items"]


def test_api_server_down_refusing_connections_comes_back_on_the_same_port(kube: FakeKube):
    kube.add_model("a", ENV)
    kube.go_down(0)

    with pytest.raises(urllib.error.URLError) as refused:
        get(kube, DEPLOYMENTS)
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    kube.come_up()
    assert get(kube, DEPLOYMENTS)["items"][0]["metadata"]["name"] == "a-production"


def test_requests_are_counted_by_kind(kube: FakeKube):
    kube.add_model("a", ENV)
    get(kube, DEPLOYMENTS)
    list(watch(kube, "timeoutSeconds=0.1"))
    with pytest.raises(urllib.error.HTTPError):
        get(kube, f"{LEASES}/missing")
    with pytest.raises(urllib.error.HTTPError):
        get(kube, "/api/v1/namespaces/system/services/a-production:8000/proxy/v1/models")

    assert kube.requests_by_kind() == {"list": 1, "watch": 1, "lease": 1, "proxy": 1}
    assert kube.count() == 1  # lists only, as before


# --- leases ---------------------------------------------------------------------------------


def micro_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_body(holder: str, version: str | None = None) -> dict:
    metadata = {"name": "lock", "namespace": "system"}
    if version:
        metadata["resourceVersion"] = version
    now = micro_time()
    spec = {
        "holderIdentity": holder,
        "leaseDurationSeconds": 15,
        "acquireTime": now,
        "renewTime": now,
        "leaseTransitions": 0,
    }
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": spec,
    }


def test_leases_are_created_read_and_updated_with_optimistic_concurrency(kube: FakeKube):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    leases = client.CoordinationV1Api(api())
    with pytest.raises(ApiException) as missing:
        leases.read_namespaced_lease("lock", "system")
    assert missing.value.status == 404

    created = leases.create_namespaced_lease("system", lease_body("a"))
    with pytest.raises(ApiException) as exists:
        leases.create_namespaced_lease("system", lease_body("b"))
    assert (exists.value.status, json.loads(exists.value.body)["reason"]) == (409, "AlreadyExists")

    read = leases.read_namespaced_lease("lock", "system")
    assert read.spec.holder_identity == "a"
    assert read.spec.renew_time.tzinfo is not None  # MicroTime parsed by the client
    version = read.metadata.resource_version
    updated = leases.replace_namespaced_lease("lock", "system", lease_body("b", version))
    with pytest.raises(ApiException) as conflict:
        leases.replace_namespaced_lease("lock", "system", lease_body("c", version))

    assert created.metadata.resource_version == version
    assert int(updated.metadata.resource_version) > int(version)
    assert updated.metadata.uid == created.metadata.uid
    assert conflict.value.status == 409
    assert "the object has been modified" in json.loads(conflict.value.body)["message"]
    assert kube.lease("lock", "system")["spec"]["holderIdentity"] == "b"
    assert kube.lease_conflicts == 2


def test_a_lease_time_not_in_micro_time_format_is_refused(kube: FakeKube):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = lease_body("a")
    body["spec"]["renewTime"] = "2024-01-01 10:00:00"
    with pytest.raises(ApiException) as refused:
        client.CoordinationV1Api(api()).create_namespaced_lease("system", body)

    assert refused.value.status == 400
    assert kube.lease("lock", "system") is None


# --- service proxy and vLLM -----------------------------------------------------------------


@pytest.fixture
def server(vllm) -> FakeVLLM:
    return vllm("llama-2-7b")


def proxy(name: str) -> tuple[int, dict]:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api())
    try:
        answer = core.connect_get_namespaced_service_proxy_with_path(
            name, "system", "v1/models", _preload_content=False
        )
        return answer.status, json.loads(answer.data)
    except ApiException as error:
        return error.status, json.loads(error.body)


@pytest.mark.parametrize(
    "target",
    ["llama-2-7b-production:8000", "llama-2-7b-production:http", "http:llama-2-7b-production:8000"],
)
def test_the_service_proxy_forwards_to_the_backend(kube: FakeKube, server: FakeVLLM, target):
    kube.add_model("llama-2-7b", ENV)
    kube.set_backend("llama-2-7b-production", "system", server.url)

    status, body = proxy(target)

    assert status == 200
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [
        ("llama-2-7b", "model", "vllm")
    ]
    assert server.requests == 1


@pytest.mark.parametrize(
    "arrange, target, status, message",
    [
        (lambda kube: None, "nope:8000", 404, 'services "nope" not found'),
        (lambda kube: None, "llama-2-7b-production:8000", 503, "no endpoints available"),
        (lambda kube: None, "llama-2-7b-production:9999", 503, 'no service port "9999"'),
    ],
)
def test_the_service_proxy_refuses_like_the_api_server(
    kube: FakeKube, arrange, target, status, message
):
    kube.add_model("llama-2-7b", ENV)
    arrange(kube)

    answer = proxy(target)

    assert answer[0] == status
    assert message in answer[1]["message"]


def test_the_proxy_passes_the_backend_status_and_never_our_credentials(kube, server: FakeVLLM):
    kube.add_model("llama-2-7b", ENV)
    kube.set_backend("llama-2-7b-production", "system", server.url)
    server.api_key = "secret"

    assert proxy("llama-2-7b-production:8000") == (401, {"error": "Unauthorized"})
    server.api_key, server.status = None, 500
    assert proxy("llama-2-7b-production:8000")[0] == 500


def direct(vllm: FakeVLLM, token: str | None = None, timeout: float = 10) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(vllm.url + "/v1/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_fake_vllm_serves_its_models_and_honours_the_api_key(server: FakeVLLM):
    server.models = ["a", "b"]
    server.api_key = "secret"

    assert direct(server) == (401, {"error": "Unauthorized"})
    assert direct(server, "wrong")[0] == 401
    status, body = direct(server, "secret")
    assert status == 200
    assert [m["id"] for m in body["data"]] == ["a", "b"]
    assert body["data"][0]["max_model_len"] == 4096


def test_fake_vllm_can_answer_too_slowly(server: FakeVLLM):
    server.delay = 2.0

    with pytest.raises(TimeoutError):
        direct(server, timeout=0.2)


def test_the_kubernetes_client_watch_raises_410_on_expired_history(kube: FakeKube):
    from kubernetes import client, watch
    from kubernetes.client.exceptions import ApiException

    apps = client.AppsV1Api(api())
    version = apps.list_namespaced_deployment("system").metadata.resource_version
    kube.expire_history()

    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(
            apps.list_namespaced_deployment, "system", resource_version=version, timeout_seconds=2
        ):
            pass

    assert gone.value.status == 410
    assert "Expired: too old resource version" in gone.value.reason
