"""Per-run state of the CLI: -q, -v, --debug, and notices said once (run in-process)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.usefixtures("no_kubeconfig")

REGISTER = ["register", "-m", "llama-2-7b", "-e", "development"]
CACHE_OFF = "registry: REDIS_URL is unset: cache off"
NO_KUBE = "no kubeconfig found"


def test_notices_are_said_once_per_run_and_again_in_the_next_run(registry, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    for environment in ("staging", "production"):
        (folder / f"{environment}.yaml").write_text(
            (ROOT / f"examples/{environment}.yaml").read_text()
        )
    for _ in range(2):  # a fresh session per run: the second run says it again
        code, _, err = registry("plan", str(folder))
        assert code == 0, err
        assert err.count(NO_KUBE) == 1


def test_quiet_silences_notices_and_warnings_not_errors_or_results(registry):
    code, out, err = registry(*REGISTER)
    assert code == 0, err
    assert CACHE_OFF in err and NO_KUBE in err
    code, out, err = registry(
        "-q",
        "register",
        "-m",
        "gpt-neo",
        "-e",
        "development",
        "--endpoint",
        "gpt-neo.system.svc.cluster.local:9000",
    )
    assert code == 0, err
    assert "+ gpt-neo" in out
    assert CACHE_OFF not in err and NO_KUBE not in err and "warning:" not in err
    code, _, err = registry("-q", "register", "-m", "Bad_Name", "-e", "development")
    assert code == 1 and err.startswith("error: invalid model name")


def test_verbose_says_which_database_and_the_time(registry):
    code, _, err = registry("-v", "list")
    assert code == 0, err
    assert "registry: database: host" in err
    assert "registry: finished in " in err and "(exit 0)" in err
    code, _, err = registry("list")
    assert "registry: database:" not in err and "finished in" not in err


@pytest.fixture
def bug(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the manifest loader broke")

    monkeypatch.setattr("reconciler.operations.load", broken)


def test_an_internal_error_is_one_paragraph_without_debug(registry, bug):
    code, out, err = registry("validate", str(ROOT / "examples"))
    assert code == 1 and out == ""
    assert err == (
        "error: internal error (RuntimeError: the manifest loader broke); rerun with --debug "
        "and report it with the traceback\n"
    )


def test_debug_shows_the_traceback_of_an_internal_error(registry, bug):
    code, _, err = registry("--debug", "validate", str(ROOT / "examples"))
    assert code == 1
    first, rest = err.split("\n", 1)
    assert first.startswith("error: internal error (RuntimeError: the manifest loader broke)")
    assert rest.startswith("Traceback (most recent call last):")
    assert 'in broken\n    raise RuntimeError("the manifest loader broke")' in rest


def test_debug_shows_no_traceback_for_a_user_error(registry):
    code, _, err = registry("--debug", "register", "-m", "Bad_Name", "-e", "development")
    assert code == 1
    assert err.startswith("error: invalid model name") and "Traceback" not in err


def test_the_global_options_work_through_admin_cli(registry):
    code, _, err = registry("registry", "-q", *REGISTER, program="admin-cli")
    assert code == 0, err
    assert CACHE_OFF not in err
