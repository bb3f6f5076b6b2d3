"""`registry controller` as a real subprocess against real PostgreSQL, Redis, the fake
Kubernetes API server (watches, leases, service proxy) and fake vLLM servers."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry import store
from tests.fakes.kube import deployment
from tests.fakes.vllm import FakeVLLM
from tests.helpers import (
    BIN,
    ROOT,
    applied,
    cli_env,
    http_get,
    kube_source,
    manifest_file,
    run_cli,
    wait_for,
)

ENV = "production"
WAIT = 20.0  # seconds any expected state may take to show up (the controller acts in ~1 s)


class Controller:
    """One `registry controller` process; its stderr is collected in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self.file = log.open("w")
        self.process = subprocess.Popen(
            [str(BIN / "registry"), "controller", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.file,
            cwd=ROOT,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = WAIT) -> None:
        def seen() -> bool:
            if self.process.poll() is not None and text not in self.log():
                raise AssertionError(f"the controller exited; its log:\n{self.log()}")
            return text in self.log()

        wait_for(seen, f"{text!r} in the controller's log:\n{self.log()}", timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(10)
        self.file.close()
        return code


@pytest.fixture
def env(database_url: str, redis_url: str, kube) -> dict[str, str]:
    return cli_env({"DATABASE_URL": database_url, "REDIS_URL": redis_url})


@pytest.fixture
def start(env, tmp_path: Path) -> Iterator[Callable[..., Controller]]:
    started: list[Controller] = []

    def run(*args: str, extra_env: dict[str, str] | None = None, leader: bool = False):
        defaults = [
            "--environment",
            ENV,
            "--probe-interval",
            "1",
            "--probe-timeout",
            "1",
            "--metrics-port",
            "0",
            "--mass-unroute-confirm",
            "0",
            *([] if leader else ["--no-leader-election"]),
        ]
        controller = Controller(
            [*defaults, *args],
            {**env, **(extra_env or {})},
            tmp_path / f"controller{len(started)}.log",
        )
        started.append(controller)
        return controller

    yield run
    for controller in started:
        if controller.process.poll() is None:
            controller.stop(signal.SIGKILL)


def deploy(
    kube, vllm, model: str, namespace: str = "system", serves: str | None = None
) -> FakeVLLM:
    """A healthy Deployment and Service for ``model``, its proxy backend a fake vLLM."""
    kube.add_model(model, ENV, namespace)
    server = vllm(serves or model)
    kube.set_backend(f"{model}-{ENV}", namespace, server.url)
    return server


def status(conn, model: str) -> str:
    return store.get_entry(conn, ENV, model).status


def becomes(conn, model: str, wanted: str, timeout: float = WAIT) -> None:
    wait_for(lambda: status(conn, model) == wanted, f"{model} {wanted}", timeout)


def unhealthy(kube, model: str, namespace: str = "system") -> None:
    """The deployment lost its replicas (0 of 1 available)."""
    kube.set_deployment(deployment(f"{model}-{ENV}", namespace, ready=0))


def test_finished_rollout_makes_the_entry_ready_and_the_router_answers(
    cli, conn, kube, vllm, start, tmp_path, database_url, redis_url
):
    from registry.cache import Cache
    from registry.lookup import Resolver

    deploy(kube, vllm, "llama-2-7b")
    kube.ready_after(f"llama-2-7b-{ENV}", "system", 3600)  # rolling out at apply time
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))
    assert status(conn, "llama-2-7b") == "pending"
    controller = start()
    controller.wait_log("observing deployments in namespace system")
    assert status(conn, "llama-2-7b") == "pending"
    kube.add_model("llama-2-7b", ENV)  # the rollout finishes
    becomes(conn, "llama-2-7b", "ready")
    with Resolver(database_url, cache=Cache(redis_url)) as resolver:
        route = resolver.resolve("llama-2-7b", ENV)
    assert route.endpoint == f"llama-2-7b-{ENV}.system.svc.cluster.local:8000"
    (audit,) = [r for r in store.history(conn, environment=ENV) if r.actor == "controller"]
    assert (audit.before["status"], audit.after["status"]) == ("pending", "ready")
    controller.wait_log(f"{ENV}/llama-2-7b: pending -> ready")
    assert controller.stop() == 0


def test_lost_replicas_unroute_the_entry_and_its_cached_route_disappears(
    cli, conn, kube, vllm, start, tmp_path, database_url, redis_url
):
    import redis

    from registry.cache import Cache
    from registry.errors import ModelNotReady
    from registry.lookup import Resolver

    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    key = f"model_registry:{ENV}:llama-2-7b"
    client = redis.Redis.from_url(redis_url)
    with Resolver(database_url, cache=Cache(redis_url)) as resolver:
        resolver.resolve("llama-2-7b", ENV)
        wait_for(lambda: client.exists(key), "the route cached")
        controller = start()
        controller.wait_log("observing services in namespace system")
        unhealthy(kube, "llama-2-7b")
        becomes(conn, "llama-2-7b", "pending")
        wait_for(lambda: not client.exists(key), "the cached route deleted")
        with pytest.raises(ModelNotReady):
            resolver.resolve("llama-2-7b", ENV)
    assert status(conn, "mistral-7b") == "ready"
    (audit,) = [r for r in store.history(conn, environment=ENV) if r.actor == "controller"]
    assert audit.after["reason"] == "0 of 1 updated replicas are available"
    controller.wait_log("production/llama-2-7b: ready -> pending (0 of 1 updated replicas")


def test_an_event_missed_while_the_watch_dropped_is_corrected_by_the_relist(
    cli, conn, kube, vllm, start, tmp_path
):
    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    controller = start("--no-probe")
    # Missed by an open watch: one that opened after the change would resume past it.
    wait_for(lambda: kube.watching("deployments", "system"), "the deployments watch")
    kube.miss_next_event()
    unhealthy(kube, "llama-2-7b")  # no watch hears of it
    kube.drop_watches()
    becomes(conn, "llama-2-7b", "pending")
    assert "re-listing deployments" in controller.log()


def test_the_periodic_resync_corrects_a_missed_event_on_a_live_watch(
    cli, conn, kube, vllm, start, tmp_path
):
    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    start("--no-probe", "--resync", "3")
    wait_for(lambda: kube.watching("deployments", "system"), "the deployments watch")
    kube.miss_next_event()
    unhealthy(kube, "llama-2-7b")
    becomes(conn, "llama-2-7b", "pending")  # within WAIT, long before the default resync


def test_an_informer_resuming_from_an_expired_resource_version_gets_gone(kube):
    """A 410 on resume is the informer's cue to list again (run() does so on Gone)."""
    import threading

    from reconciler import observe
    from reconciler.controller.informer import Gone, Informer

    kube.add_model("llama-2-7b", ENV)
    changes, restarts = [], []
    informer = Informer(
        observe.connect(kube_source()),
        "deployments",
        "system",
        resync=60,
        on_change=lambda: changes.append(1),
        on_restart=lambda kind, why: restarts.append(why),
    )
    informer.stop = threading.Event()
    informer._list()
    assert informer.synced and informer.fresh and f"llama-2-7b-{ENV}" in informer.objects
    kube.add_model("mistral-7b", ENV)
    assert informer._watch(time.monotonic() + 2) is False  # ran to its end, nothing to re-list
    assert f"mistral-7b-{ENV}" in informer.objects
    kube.expire_history()
    with pytest.raises(Gone):
        informer._watch(time.monotonic() + 5)


@pytest.mark.parametrize("down", [503, 0], ids=["answers-503", "refuses-connections"])
def test_the_api_server_down_flips_nothing(cli, conn, kube, vllm, start, tmp_path, down):
    for model in ("llama-2-7b", "mistral-7b", "gpt-neo"):
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b", "gpt-neo"))
    unhealthy(kube, "gpt-neo")
    controller = start()
    becomes(conn, "gpt-neo", "pending")
    kube.go_down(down)
    controller.wait_log("keeping the last known state")
    time.sleep(3)  # several reconcile ticks and probe rounds while blind
    assert [status(conn, m) for m in ("llama-2-7b", "mistral-7b", "gpt-neo")] == [
        "ready",
        "ready",
        "pending",
    ]
    kube.come_up()
    kube.add_model("gpt-neo", ENV)
    becomes(conn, "gpt-neo", "ready")
    assert status(conn, "llama-2-7b") == "ready"


def test_an_endpoint_serving_another_model_stays_pending_with_the_reason(
    cli, conn, kube, vllm, start, tmp_path
):
    deploy(kube, vllm, "llama-2-7b", serves="llama-3-8b")
    kube.ready_after(f"llama-2-7b-{ENV}", "system", 3600)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))
    controller = start()
    controller.wait_log("observing services in namespace system")
    kube.add_model("llama-2-7b", ENV)  # healthy now, but it serves another model
    controller.wait_log("endpoint serves [llama-3-8b], not llama-2-7b")
    time.sleep(2)  # two more probe rounds
    assert status(conn, "llama-2-7b") == "pending"
    row = conn.execute(
        "SELECT probe, health FROM model_registry_entries WHERE model_name = 'llama-2-7b'"
    ).fetchone()
    assert row == ("endpoint serves [llama-3-8b], not llama-2-7b", "Healthy")


def test_a_probe_that_times_out_unroutes_with_the_reason(cli, conn, kube, vllm, start, tmp_path):
    deploy(kube, vllm, "llama-2-7b")
    slow = deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    slow.delay = 3
    controller = start()
    becomes(conn, "mistral-7b", "pending")
    controller.wait_log("mistral-7b: ready -> pending (endpoint did not answer in 1 s)")
    assert status(conn, "llama-2-7b") == "ready"


def test_the_mass_unroute_guard_holds_then_releases(cli, conn, kube, vllm, start, tmp_path):
    models = ("llama-2-7b", "mistral-7b", "gpt-neo")
    for model in models:
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, *models))
    controller = start("--no-probe", "--mass-unroute-confirm", "5")
    controller.wait_log("observing services in namespace system")
    for model in models[:2]:
        unhealthy(kube, model)
    controller.wait_log("holding 2 of 3 ready entries routable")
    # Whether both events came in one cycle or two, at most one of them got through.
    assert [status(conn, m) for m in models].count("ready") >= 2
    controller.wait_log("mass unroute confirmed")
    becomes(conn, "mistral-7b", "pending")
    assert [status(conn, m) for m in models] == ["pending", "pending", "ready"]


def test_a_disabled_entry_is_never_touched(cli, conn, kube, vllm, start, tmp_path):
    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    assert cli("disable", "-m", "llama-2-7b", "-e", ENV).returncode == 0
    controller = start()
    unhealthy(kube, "llama-2-7b")
    unhealthy(kube, "mistral-7b")
    becomes(conn, "mistral-7b", "pending")
    assert status(conn, "llama-2-7b") == "disabled"
    assert "llama-2-7b" not in controller.log()


def test_registry_changes_are_picked_up(cli, conn, kube, vllm, start, tmp_path, database_url):
    deploy(kube, vllm, "llama-2-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))
    controller = start(extra_env={"REGISTRY_LISTEN_URL": database_url})
    controller.wait_log("observing services in namespace system")
    deploy(kube, vllm, "gpt-neo", namespace="inference")
    kube.ready_after(f"gpt-neo-{ENV}", "inference", 3600)
    result = cli(
        "register", "-m", "gpt-neo", "-e", ENV, "--namespace", "inference", "--no-verify-health"
    )
    assert result.returncode == 0, result.stderr
    becomes(conn, "gpt-neo", "pending")  # a new entry in a new namespace, not yet healthy
    assert "observing deployments in namespace inference" in controller.log()


def test_sigterm_exits_zero(cli, kube, vllm, start, tmp_path):
    deploy(kube, vllm, "llama-2-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))
    controller = start()
    controller.wait_log("observing services in namespace system")
    began = time.monotonic()
    assert controller.stop() == 0
    assert time.monotonic() - began < 5


def test_user_mistakes_are_one_line_errors(cli, kube):
    for args, message in (
        ((), "no environment to reconcile"),
        (("-e", "Prod"), "error:"),
        (("-e", ENV, "--resync", "0"), "invalid resync 0: use a number of seconds above 0"),
        (("-e", ENV, "--probe-timeout", "-1"), "invalid probe timeout '-1'"),
        (("-e", ENV, "--probe-interval", "nan"), "invalid probe interval 'nan'"),
        (("-e", ENV, "--resync", "inf"), "invalid resync 'inf'"),
        (("-e", ENV, "--mass-unroute-confirm", "90000"), "at most 86400"),
        (("-e", ENV, "--metrics-port", "70000"), "invalid metrics port 70000"),
        (("-e", ENV, "--lease-name", "../leases/x"), "invalid lease name '../leases/x'"),
        (("-e", ENV, "--lease-namespace", "Kube System"), "invalid namespace 'Kube System'"),
    ):
        result = cli("controller", *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_every_option_can_come_from_the_environment_and_is_checked_there_too(cli):
    # A Deployment sets the controller's options as REGISTRY_* variables.
    for name, value, message in (
        ("REGISTRY_PROBE_TIMEOUT", "nan", "invalid probe timeout 'nan'"),
        ("REGISTRY_RESYNC", "0", "invalid resync 0"),
        ("REGISTRY_METRICS_PORT", "٣", "invalid metrics port"),
        ("REGISTRY_LOG_FORMAT", "yaml", "REGISTRY_LOG_FORMAT"),
    ):
        result = cli("controller", "-e", ENV, env={name: value})
        assert result.returncode == 1, name
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    help_text = cli("controller", "--help").stdout
    for name in (
        "REGISTRY_RESYNC",
        "REGISTRY_PROBE_INTERVAL",
        "REGISTRY_PROBE_TIMEOUT",
        "REGISTRY_PROBE_VIA",
        "REGISTRY_NO_PROBE",
        "REGISTRY_MASS_UNROUTE_CONFIRM",
        "REGISTRY_LEASE_NAME",
        "REGISTRY_LEASE_NAMESPACE",
        "REGISTRY_NO_LEADER_ELECTION",
        "REGISTRY_METRICS_PORT",
        "REGISTRY_LOG_FORMAT",
    ):
        assert name in help_text, name


def test_no_cluster_is_an_error(cli, tmp_path):
    result = run_cli(
        "controller", "-e", ENV, env={"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: the controller needs a cluster")


def test_a_saved_plan_stays_valid_across_controller_transitions(
    cli, conn, kube, vllm, start, tmp_path
):
    for model in ("llama-2-7b", "mistral-7b", "gpt-neo"):
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    saved = tmp_path / "plan.json"
    planned = cli(
        "plan",
        str(manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b", "gpt-neo")),
        "--out",
        str(saved),
    )
    assert planned.returncode == 0, planned.stderr
    controller = start("--no-probe")
    unhealthy(kube, "mistral-7b")
    becomes(conn, "mistral-7b", "pending")
    assert controller.stop() == 0
    assert store.revision(conn, ENV) == 1  # liveness is not desired state
    result = cli("apply", str(saved))
    assert result.returncode == 0, result.stderr
    assert status(conn, "gpt-neo") == "ready" and status(conn, "mistral-7b") == "pending"
    assert store.revision(conn, ENV) == 2


def test_a_saved_plan_never_routes_an_entry_the_controller_saw_fail(
    cli, conn, kube, vllm, start, tmp_path
):
    server = deploy(kube, vllm, "llama-2-7b")
    kube.ready_after(f"llama-2-7b-{ENV}", "system", 3600)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b"))
    kube.add_model("llama-2-7b", ENV)  # healthy when the plan is made ...
    saved = tmp_path / "plan.json"
    planned = cli("plan", str(manifest_file(tmp_path, ENV, "llama-2-7b")), "--out", str(saved))
    assert planned.returncode == 0, planned.stderr
    assert 'status = "pending" -> "ready"' in planned.stdout
    server.models = ["llama-3-8b"]  # ... but the controller then finds it serving another
    controller = start()
    controller.wait_log("endpoint serves [llama-3-8b], not llama-2-7b")
    wait_for(
        lambda: conn.execute(
            "SELECT probe FROM model_registry_entries WHERE model_name = 'llama-2-7b'"
        ).fetchone()[0],
        "the probe recorded",
    )
    assert controller.stop() == 0
    result = cli("apply", str(saved))
    assert result.returncode == 0, result.stderr
    assert status(conn, "llama-2-7b") == "pending"
    reason = conn.execute(
        "SELECT status_reason FROM model_registry_entries WHERE model_name = 'llama-2-7b'"
    ).fetchone()[0]
    assert reason == "endpoint serves [llama-3-8b], not llama-2-7b"


def scrape(controller: Controller, path: str = "/metrics") -> tuple[int, str]:
    import re

    controller.wait_log("metrics on port")
    port = re.search(r"metrics on port (\d+)", controller.log()).group(1)
    return http_get(f"http://127.0.0.1:{port}{path}", timeout=5)[:2]


def sample(controller: Controller, name: str, **labels: str) -> float | None:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(scrape(controller)[1]):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return None


def test_metrics_parse_and_move_with_transitions(cli, conn, kube, vllm, start, tmp_path):
    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b", serves="other")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    controller = start()
    becomes(conn, "mistral-7b", "pending")
    wait_for(lambda: scrape(controller, "/readyz")[0] == 200, "readyz 200")
    assert scrape(controller, "/healthz")[0] == 200
    moved = {"environment": ENV, "from_status": "ready", "to_status": "pending"}
    wait_for(
        lambda: sample(controller, "registry_health_transitions_total", **moved) == 1,
        "one transition counted",
    )
    assert sample(controller, "registry_entries", environment=ENV, status="ready") == 1
    assert sample(controller, "registry_probe_failures_total", environment=ENV) >= 1
    assert sample(controller, "registry_leader") == 1
    assert sample(controller, "registry_last_observation_timestamp_seconds", environment=ENV)
    assert sample(controller, "registry_reconcile_duration_seconds_count") >= 1
    unhealthy(kube, "llama-2-7b")
    becomes(conn, "llama-2-7b", "pending")
    wait_for(
        lambda: sample(controller, "registry_health_transitions_total", **moved) == 2,
        "two transitions counted",
    )
    kube.drop_watches()
    wait_for(
        lambda: (
            (sample(controller, "registry_kube_watch_restarts_total", kind="deployments") or 0) >= 1
        ),
        "watch restarts counted",
    )


def test_two_controllers_elect_one_leader_and_hand_over(cli, conn, kube, vllm, start, tmp_path):
    for model in ("llama-2-7b", "mistral-7b", "gpt-neo"):
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b", "gpt-neo"))
    first, second = start("--no-probe", leader=True), start("--no-probe", leader=True)

    def leaders() -> list[Controller]:
        return [c for c in (first, second) if sample(c, "registry_leader") == 1]

    (leader,) = wait_for(leaders, "a leader")
    standby = second if leader is first else first
    assert sample(standby, "registry_leader") == 0
    lease = kube.lease("vllm-model-registry-controller", "system")
    assert lease["spec"]["holderIdentity"]
    leader.stop(signal.SIGKILL)  # no release: the standby waits out the lease (15 s)
    wait_for(lambda: sample(standby, "registry_leader") == 1, "the standby to lead", 40)
    unhealthy(kube, "gpt-neo")
    becomes(conn, "gpt-neo", "pending")
    began = time.monotonic()
    assert standby.stop() == 0
    assert time.monotonic() - began < 5
    released = kube.lease("vllm-model-registry-controller", "system")
    assert not released["spec"].get("holderIdentity")


def test_only_the_leader_writes(cli, conn, kube, vllm, start, tmp_path):
    for model in ("llama-2-7b", "mistral-7b"):
        deploy(kube, vllm, model)
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    holder = start("--no-probe", "--lease-name", "other-lease", leader=True)
    wait_for(lambda: sample(holder, "registry_leader") == 1, "the holder leads")
    holder.stop(signal.SIGKILL)  # its lease stays held for 15 s
    standby = start("--no-probe", "--lease-name", "other-lease", leader=True)
    standby.wait_log("observing services in namespace system")
    unhealthy(kube, "llama-2-7b")
    time.sleep(3)  # several reconcile cycles
    assert sample(standby, "registry_leader") == 0
    assert status(conn, "llama-2-7b") == "ready"
    wait_for(lambda: sample(standby, "registry_leader") == 1, "the standby to lead", 40)
    becomes(conn, "llama-2-7b", "pending")


def test_environment_health_compares_every_entry_with_the_cluster(cli, conn, kube, vllm, tmp_path):
    import json

    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b", serves="other")
    deploy(kube, vllm, "gpt-neo")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b", "gpt-neo"))
    assert cli("disable", "-m", "gpt-neo", "-e", ENV).returncode == 0
    result = cli("health", "--environment", ENV, "--format", "json")
    assert result.returncode == 2, result.stderr
    checks = {c["model_name"]: c for c in json.loads(result.stdout)}
    assert checks["llama-2-7b"] == {
        "model_name": "llama-2-7b",
        "status": "ready",
        "health": "Healthy",
        "probe": "ok",
        "expected_status": "ready",
        "agrees": True,
        "reason": None,
    }
    assert checks["mistral-7b"]["agrees"] is False
    assert checks["mistral-7b"]["reason"] == "endpoint serves [other], not mistral-7b"
    assert checks["gpt-neo"]["agrees"] is True  # disabled: nothing to compare
    text = cli("health", "-e", ENV)
    assert text.returncode == 2
    assert "3 entries, 1 disagree" in text.stdout
    assert "NO (should be pending)" in text.stdout
    assert cli("health", "-e", ENV, "--no-probe").returncode == 0


def test_environment_health_without_a_cluster_is_an_error(cli, tmp_path):
    result = cli("health", "-e", ENV, env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot compare environment production")


def test_json_log_lines_carry_the_transition(cli, conn, kube, vllm, start, tmp_path):
    import json

    deploy(kube, vllm, "llama-2-7b")
    deploy(kube, vllm, "mistral-7b")
    applied(cli, manifest_file(tmp_path, ENV, "llama-2-7b", "mistral-7b"))
    controller = start("--no-probe", "--log-format", "json")
    controller.wait_log('"observing services in namespace system"')
    unhealthy(kube, "llama-2-7b")
    controller.wait_log('"to_status": "pending"')
    lines = [json.loads(line) for line in controller.log().splitlines()]
    (moved,) = [line for line in lines if line.get("to_status")]
    assert moved["environment"] == ENV and moved["model_name"] == "llama-2-7b"
    assert (moved["from_status"], moved["reason"]) == (
        "ready",
        "0 of 1 updated replicas are available",
    )
    assert {line["level"] for line in lines} <= {"info", "warning", "error"}
