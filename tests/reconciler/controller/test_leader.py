"""Leader election against the fake API server's Leases, through the real kubernetes client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from reconciler import observe
from reconciler.controller.leader import (
    LeaderElector,
    Timings,
    default_identity,
    default_namespace,
)
from registry.errors import LeaderElectionError
from tests.fakes.kube import FakeKube
from tests.helpers import kube_source, wait_for

FAST = Timings(lease_duration=2, renew_deadline=1.0, retry_period=0.1)
NAME, NAMESPACE = "vllm-model-registry-controller", "system"


class Replica:
    """An elector in its own thread, recording what its callbacks were told."""

    def __init__(self, identity: str, timings: Timings, release_on_cancel: bool = True) -> None:
        self.events: list[str] = []
        self.elector = LeaderElector(
            observe.connect(kube_source()).api,
            name=NAME,
            namespace=NAMESPACE,
            identity=identity,
            timings=timings,
            on_started_leading=lambda: self.events.append("started"),
            on_stopped_leading=lambda: self.events.append("stopped"),
            release_on_cancel=release_on_cancel,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.elector.run, args=(self.stop,), daemon=True)

    def start(self) -> Replica:
        self.thread.start()
        return self

    def halt(self) -> None:
        self.stop.set()
        if self.thread.ident is None:
            return  # never started
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def replicas(kube: FakeKube) -> Iterator[Callable[..., Replica]]:
    made: list[Replica] = []

    def make(identity: str, timings: Timings = FAST, **kwargs) -> Replica:
        made.append(Replica(identity, timings, **kwargs))
        return made[-1]

    yield make
    for replica in made:
        replica.halt()


def parse(micro_time: str) -> datetime:
    return datetime.fromisoformat(micro_time.replace("Z", "+00:00"))


def holder(kube: FakeKube) -> str:
    return kube.lease(NAME, NAMESPACE)["spec"]["holderIdentity"]


def test_two_replicas_elect_exactly_one_leader(kube: FakeKube, replicas):
    a, b = replicas("a").start(), replicas("b").start()
    wait_for(lambda: a.elector.is_leader() or b.elector.is_leader())
    leader, standby = (a, b) if a.elector.is_leader() else (b, a)

    for _ in range(50):  # several renewals and standby retries
        assert not standby.elector.is_leader()
        time.sleep(0.02)

    assert leader.elector.is_leader()
    assert holder(kube) == leader.elector.identity
    assert standby.elector.holder() == leader.elector.identity
    assert (leader.events, standby.events) == (["started"], [])
    spec = kube.lease(NAME, NAMESPACE)["spec"]
    assert (spec["leaseDurationSeconds"], spec["leaseTransitions"]) == (2, 0)
    assert parse(spec["renewTime"]) > parse(spec["acquireTime"])  # renewed, same acquisition


def test_a_leader_that_dies_is_replaced_only_after_the_lease_runs_out(kube: FakeKube, replicas):
    a = replicas("a", release_on_cancel=False).start()
    wait_for(a.elector.is_leader)
    b = replicas("b").start()
    wait_for(lambda: b.elector.holder() == "a")

    a.halt()  # as if SIGKILLed: no release
    last = kube.lease(NAME, NAMESPACE)["spec"]
    wait_for(b.elector.is_leader)

    taken = kube.lease(NAME, NAMESPACE)["spec"]
    assert (last["holderIdentity"], taken["holderIdentity"]) == ("a", "b")
    waited = (parse(taken["acquireTime"]) - parse(last["renewTime"])).total_seconds()
    assert waited >= FAST.lease_duration - 0.05  # never while a's lease was still valid
    assert taken["leaseTransitions"] == 1
    assert (a.events, b.events) == (["started", "stopped"], ["started"])


def test_release_hands_the_lease_over_at_once(kube: FakeKube, replicas):
    slow_expiry = Timings(lease_duration=60, renew_deadline=1.0, retry_period=0.1)
    a = replicas("a", slow_expiry).start()
    wait_for(a.elector.is_leader)
    b = replicas("b", slow_expiry).start()
    wait_for(lambda: b.elector.holder() == "a")

    a.halt()

    # Within 15 s, while a's lease (60 s) would still be valid had it not been released.
    wait_for(b.elector.is_leader, timeout=15)
    assert holder(kube) == "b"
    assert a.events == ["started", "stopped"] and not a.elector.is_leader()


def test_release_clears_the_holder_and_shortens_the_lease(kube: FakeKube, replicas):
    a = replicas("a").start()
    wait_for(a.elector.is_leader)

    a.halt()

    spec = kube.lease(NAME, NAMESPACE)["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)
    assert spec["leaseTransitions"] == 0
    assert not a.elector.is_leader()


def test_release_never_clears_another_replicas_lease(kube: FakeKube, replicas):
    b = replicas("b").start()
    wait_for(b.elector.is_leader)
    a = replicas("a")

    assert a.elector.release()  # a holds nothing: nothing to give up
    assert holder(kube) == "b"


def test_losing_the_create_race_is_a_409_and_no_leadership(kube: FakeKube, replicas):
    a, b = replicas("a"), replicas("b")

    def b_first(method: str, body: dict) -> None:
        kube.on_lease_write = None
        assert b.elector.try_acquire_or_renew()  # b reads, creates: a's create comes second

    kube.on_lease_write = b_first
    won = a.elector.try_acquire_or_renew()

    assert (won, a.elector.is_leader(), b.elector.is_leader()) == (False, False, True)
    assert holder(kube) == "b"
    assert kube.lease_conflicts == 1


def test_losing_the_update_race_is_a_409_and_no_leadership(kube: FakeKube, replicas):
    a, b = replicas("a"), replicas("b")
    assert a.elector.try_acquire_or_renew()
    assert a.elector.release()  # the lease exists, free

    def b_first(method: str, body: dict) -> None:
        kube.on_lease_write = None
        assert b.elector.try_acquire_or_renew()  # b's update lands between a's read and write

    kube.on_lease_write = b_first
    won = a.elector.try_acquire_or_renew()

    assert (won, a.elector.is_leader(), b.elector.is_leader()) == (False, False, True)
    assert holder(kube) == "b"
    assert kube.lease_conflicts == 1
    assert kube.lease(NAME, NAMESPACE)["spec"]["leaseTransitions"] == 1  # a created, b took


def test_a_standby_does_not_take_a_lease_it_has_just_seen_held(kube: FakeKube, replicas):
    a = replicas("a")
    assert a.elector.try_acquire_or_renew()
    b = replicas("b")

    # a's lease record is new to b: valid for its duration by b's clock, whatever its times.
    assert not b.elector.try_acquire_or_renew()
    assert (b.elector.holder(), holder(kube)) == ("a", "a")


@pytest.mark.parametrize("status", [503, 0], ids=["503", "refused"])
def test_api_down_the_leader_steps_down_after_the_renew_deadline(kube, replicas, status):
    timings = Timings(lease_duration=5, renew_deadline=3.0, retry_period=0.1)
    a = replicas("a", timings).start()
    wait_for(a.elector.is_leader)

    kube.go_down(status)

    assert a.elector.is_leader()  # one failed renewal is no reason to stop
    wait_for(lambda: not a.elector.is_leader())
    wait_for(lambda: a.events == ["started", "stopped"])
    kube.come_up()
    wait_for(a.elector.is_leader)  # the lease still names a: it takes it back
    assert a.events == ["started", "stopped", "started"]
    assert kube.lease(NAME, NAMESPACE)["spec"]["leaseTransitions"] == 0


def test_is_leader_turns_false_at_the_deadline_while_the_renewal_hangs(kube, replicas):
    a = replicas("a").start()
    wait_for(a.elector.is_leader)
    gate = threading.Event()
    written = kube.lease(NAME, NAMESPACE)["metadata"]["resourceVersion"]

    def hang(method: str, body: dict) -> None:
        gate.wait(30)

    kube.on_lease_write = hang
    wait_for(lambda: not a.elector.is_leader())

    assert kube.lease(NAME, NAMESPACE)["metadata"]["resourceVersion"] == written
    kube.on_lease_write = None
    gate.set()
    wait_for(a.elector.is_leader)


def test_timings_that_could_allow_two_leaders_are_refused():
    with pytest.raises(LeaderElectionError) as refused:
        Timings(lease_duration=10, renew_deadline=10.0, retry_period=2.0)

    assert "must be whole seconds and exceed the renew deadline" in str(refused.value)
    with pytest.raises(LeaderElectionError):
        Timings(lease_duration=15, renew_deadline=2.0, retry_period=2.0)
    assert Timings() == Timings(15, 10.0, 2.0)


def test_defaults_for_namespace_and_identity(tmp_path):
    namespace_file = tmp_path / "namespace"
    assert default_namespace(namespace_file) == "system"
    namespace_file.write_text("inference\n")
    assert default_namespace(namespace_file) == "inference"

    first, second = default_identity(), default_identity()
    assert first != second
    assert first.split("_")[:2] == second.split("_")[:2]  # hostname_pid_random


def test_a_lease_refused_by_rbac_is_logged_with_what_to_grant(kube, replicas, caplog):
    kube.fail(403, times=1000, kind="leases")
    a = replicas("a")

    with caplog.at_level("WARNING", logger="reconciler.controller.leader"):
        assert not a.elector.try_acquire_or_renew()
        assert not a.elector.try_acquire_or_renew()

    (logged,) = caplog.messages  # said once, not once per retry
    assert logged.startswith(f"lease {NAMESPACE}/{NAME}: the API server refused (403: leases is ")
    assert 'cannot get resource "leases" in API group "coordination.k8s.io"' in logged
    assert "grant the controller's service account get, create and update on leases" in logged
    assert kube.lease(NAME, NAMESPACE) is None


def test_a_lease_request_that_fails_once_is_retried_by_the_next_attempt(kube, replicas):
    kube.fail(500, times=1, kind="leases")
    a = replicas("a").start()

    wait_for(a.elector.is_leader)
    assert kube.requests_by_kind()["list"] == 0  # lease failures never touch the lists


def test_release_gives_up_within_its_timeout_when_the_api_server_hangs(kube, replicas):
    a = replicas("a", Timings(lease_duration=60, renew_deadline=40.0, retry_period=0.1))
    assert a.elector.try_acquire_or_renew()
    kube.delay = 30  # every request hangs, well within the renew deadline

    released = a.elector.release(timeout=0.5)

    kube.delay = 0
    assert not released and not a.elector.is_leader()
    assert holder(kube) == "a"  # not cleared: the lease runs out by itself
