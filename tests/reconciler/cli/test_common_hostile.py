"""Options from the environment, set wrong: the message is one short `error:` paragraph that
never shows a password nor the whole of a huge value."""

from __future__ import annotations

import pytest

ENV = "production"
PASSWORD = "correct-horse-battery-staple-" + "x" * 60
URL = f"postgresql://registry:{PASSWORD}@db.example.com:5432/registry"
CONTROLLER = ("controller", "-e", ENV)


@pytest.mark.parametrize(
    ("variable", "args"),
    [
        ("REGISTRY_RESYNC", CONTROLLER),
        ("REGISTRY_METRICS_PORT", CONTROLLER),
        ("REGISTRY_LEASE_NAME", CONTROLLER),
        ("REGISTRY_LEASE_NAMESPACE", CONTROLLER),
        ("REGISTRY_REQUEST_TIMEOUT", CONTROLLER),
        ("REGISTRY_PROBE_VIA", CONTROLLER),
        ("REGISTRY_LOCK_TIMEOUT", ("apply", "--auto-approve", "examples")),
        ("REGISTRY_WAIT_TIMEOUT", ("apply", "--auto-approve", "--wait", "examples")),
        ("REGISTRY_CACHE_TTL", ("list",)),
        ("REGISTRY_EMBEDDED", ("list",)),
    ],
)
def test_a_url_set_in_the_wrong_variable_never_shows_its_password(registry, variable, args):
    """A value cut short for the message used to be cut before it was redacted: a URL cut
    before its '@' kept its password."""
    code, out, err = registry(*args, env={variable: URL})
    assert code == 1, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "correct-horse" not in err, err


HUGE = "\x1b]0;owned\x07" + "x" * 100_000


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (CONTROLLER, {"REGISTRY_PROBE_VIA": HUGE}),
        (CONTROLLER, {"REGISTRY_LOG_FORMAT": HUGE}),
        (CONTROLLER, {"REGISTRY_NO_PROBE": HUGE}),
        (CONTROLLER, {"REGISTRY_NO_LEADER_ELECTION": HUGE}),
        (("list",), {"REGISTRY_NO_COLOR": HUGE}),
        ((*CONTROLLER, "--probe-via", HUGE), {}),
        (("list", "-o", HUGE), {}),
    ],
    ids=["probe-via", "log-format", "no-probe", "no-leader-election", "no-color", "flag", "-o"],
)
def test_a_huge_value_of_a_choice_or_switch_is_not_echoed_whole(registry, args, env):
    """names.py: "a 4 MB name must not reach stderr, JUnit or Code Quality whole"; click's
    own messages for a choice or a boolean repeat the whole value (100 KB here)."""
    code, _, err = registry(*args, env=env)
    assert code == 1
    assert err.startswith("error: ") and "\x1b" not in err
    assert len(err) < 2000, f"{len(err)} characters: {err[:300]}..."


def test_a_huge_kube_context_is_not_echoed_whole(registry, kube):
    code, _, err = registry(
        "health", "-e", ENV, "-m", "llama-2-7b", env={"REGISTRY_KUBE_CONTEXT": HUGE}
    )
    assert code == 1
    assert err.startswith("error: cannot use the kubeconfig context") and "\x1b" not in err
    assert len(err) < 2000, f"{len(err)} characters: {err[:300]}..."


def test_a_number_of_seconds_just_over_its_limit_is_shown_as_written(registry):
    code, _, err = registry(*CONTROLLER, env={"REGISTRY_RESYNC": "86400.000000001"})
    assert code == 1
    assert "invalid resync 86400.000000001: use a number of seconds above 0" in err, err
