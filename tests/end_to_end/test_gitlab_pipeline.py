"""The real .gitlab-ci.yml, run job by job with gitlab-ci-local on this machine.

Merge request pipeline: validate and plan as a registry_reader member (the
writer's credential, were it visible, is not used), reports as artifacts,
nothing written. Default-branch pipeline: plan, then apply the saved plans of the same
pipeline; a second run has nothing left to do.

Every job still makes its venv and runs `pip install "$REGISTRY_PACKAGE"`, offline from a
wheelhouse built once per session: the project's wheel in most tests, the pipeline's
default "." (built from the job's checkout) in one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

from tests.helpers import ROOT, require_tool


def missing_tools() -> list[str]:
    """What this machine lacks to run the pipeline, each with why."""
    missing = [f"{tool} (not on PATH)" for tool in ("rsync", "git") if shutil.which(tool) is None]
    try:
        subprocess.run(
            ["gitlab-ci-local", "--version"], check=True, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        missing.append(f"a working gitlab-ci-local ({type(error).__name__})")
    return missing


MISSING = missing_tools()


@pytest.fixture(autouse=True)
def _pipeline_tools() -> None:
    require_tool(
        f"missing {' and '.join(MISSING)}: install with `npm install -g "
        "gitlab-ci-local@4.60.1` and `apt-get install -y rsync` (.ci/run does this)"
        if MISSING
        else None
    )


PIPELINE_TIMEOUT = 900
# Every job installs the package into a fresh venv: on a busy 2-core runner one pipeline
# takes minutes, more than the suite's 300 s default per test.
pytestmark = pytest.mark.timeout(2 * PIPELINE_TIMEOUT + 60)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def copy_checkout(work: Path) -> Path:
    """This project's files as git sees them (tracked and not ignored) copied to ``work``."""
    files = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in files:
        source = ROOT / name
        if source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    return work


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path | None:
    """This project's wheel, every dependency's and its build requirements', built once.

    Every job makes a fresh venv and runs `pip install "$REGISTRY_PACKAGE"`; from here
    (PIP_NO_INDEX, PIP_FIND_LINKS) that is offline: no index queries, no downloads.
    None when it cannot be built (no index reachable): the jobs then install online.
    """
    folder = tmp_path_factory.mktemp("wheelhouse")
    # Built from a copy so that setuptools' build/ and egg-info stay out of the checkout.
    source = copy_checkout(tmp_path_factory.mktemp("source"))
    build = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(folder)]
        + [str(source), *build],
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT,
    )
    if result.returncode != 0:
        warnings.warn(
            f"no wheelhouse, the jobs install online: {result.stderr[-2000:]}", stacklevel=1
        )
        return None
    return folder


@pytest.fixture
def pipeline(repo: Path, wheelhouse: Path | None):
    """``pipeline(variables, *options, from_source=False)``: gitlab-ci-local in ``repo``.

    Each job installs from the wheelhouse: the project's wheel, or with ``from_source``
    the pipeline's default REGISTRY_PACKAGE "." (the job's checkout, built in the job).
    """

    def run(
        variables: dict[str, str], *extra: str, from_source: bool = False
    ) -> subprocess.CompletedProcess:
        offline = {}
        if wheelhouse is not None:
            # Absolute paths: each job runs in its own copy of the checkout.
            offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}
            if not from_source:
                [wheel] = wheelhouse.glob("vllm_model_registry-*.whl")
                offline["REGISTRY_PACKAGE"] = str(wheel)
        return run_pipeline(repo, {**offline, **variables}, *extra)

    return run


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of this project as a git repository whose origin/main is the base."""
    work = copy_checkout(tmp_path / "work")
    git(work, "init", "-q", "-b", "main")
    git(work, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "add", "-A")
    git(work, "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "-qm", "base")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(work, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(work, "push", "-q", "origin", "main")
    git(work, "remote", "set-head", "origin", "main")
    return work


def run_pipeline(repo: Path, variables: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    # Shell isolation gives each job its own copy of the checkout, as GitLab does. No
    # artifacts copied back into the checkout: that copy races with the next job's copy
    # out of it (rsync: "file has vanished"); tests read them where they are kept.
    args = [
        "gitlab-ci-local",
        "--force-shell-executor",
        "--shell-isolation",
        "--no-artifacts-to-source",
        "--concurrency",
        "2",
    ]
    # A shared pip cache keeps each job's `pip install` from downloading again. No bytecode
    # compiled at install (half of pip's time; Python compiles what it imports):
    # PIP_NO_COMPILE sets pip's `compile` flag to its value, so "0" means --no-compile.
    variables = {
        "PIP_CACHE_DIR": str(Path.home() / ".cache/pip"),
        "PIP_NO_COMPILE": "0",
        **variables,
    }
    for name, value in variables.items():
        args += ["--variable", f"{name}={value}"]
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "KUBECONFIG")
    }
    return subprocess.run(
        [*args, *extra], cwd=repo, env=env, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT
    )


def artifact(repo: Path, job: str, name: str) -> Path:
    """Where gitlab-ci-local keeps ``job``'s artifact ``name``.

    The folder is the job name with each run of other characters than [A-Za-z0-9_-]
    base64url-encoded, as gitlab-ci-local names it ("plan:staging" -> "planOgstaging").
    """
    folder = re.sub(
        r"[^\w-]+",
        lambda match: base64.urlsafe_b64encode(match.group().encode()).decode().rstrip("="),
        job,
    )
    return repo / ".gitlab-ci-local" / "artifacts" / folder / name


def job_said(log: str, job: str, text: str) -> bool:
    """Whether a line of ``job``'s output (prefixed with its name) holds ``text``."""
    return any(line.split(" ", 1)[0] == job and text in line for line in log.splitlines())


def change(repo: Path, name: str, text: str) -> None:
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "examples" / name).write_text(text)
    git(repo, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qam", "change")


def registry_entries(database_url: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('model_registry_entries')").fetchone()[0] is None:
            return []
        return conn.execute(
            "SELECT environment, model_name, status FROM model_registry_entries ORDER BY 1, 2"
        ).fetchall()


@pytest.fixture
def reader_url(login) -> str:
    """A LOGIN member of registry_reader, after the owner migrated the database."""
    return login("registry_reader")


def merge_request(pipeline, reader_url, redis_url, **options):
    return pipeline(
        {
            "CI_PIPELINE_SOURCE": "merge_request_event",
            "CI_MERGE_REQUEST_IID": "1",
            "REGISTRY_READ_DATABASE_URL": reader_url,
            # Were the writer's credential visible, merge requests must not use it: this
            # one fails every connection, so a job that used it would fail.
            "DATABASE_URL": "postgresql://writer:secret@127.0.0.1:1/registry",
            "REGISTRY_PLAN_KEY": "must-not-be-used",
            "REDIS_URL": redis_url,
        },
        **options,
    )


def test_merge_request_pipeline_plans_a_valid_change(
    repo, pipeline, database_url, reader_url, redis_url
):
    staging = (repo / "examples/staging.yaml").read_text()
    change(repo, "staging.yaml", staging + "    - name: phi-2\n")
    result = merge_request(pipeline, reader_url, redis_url)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]
    for job in ("validate", "plan:development", "plan:staging", "plan:production"):
        assert f"PASS  {job}" in log
    assert "+ phi-2" in log
    assert (
        json.loads(artifact(repo, "plan:staging", "tfplan-staging.json").read_text())["create"] >= 1
    )
    assert "`phi-2`" in artifact(repo, "plan:staging", "plan-staging.md").read_text()
    assert json.loads(artifact(repo, "validate", "gl-code-quality-report.json").read_text()) == []
    assert "apply:" not in log  # merge requests never apply
    assert "signature" not in json.loads(
        artifact(repo, "plan:staging", "plan-staging.json").read_text()
    )
    assert registry_entries(database_url) == []


def test_merge_request_pipeline_fails_on_invalid_manifest(
    repo, pipeline, database_url, reader_url, redis_url
):
    staging = (repo / "examples/staging.yaml").read_text()
    change(repo, "staging.yaml", staging + "    - name: phi-2\n      enabeld: true\n")
    # The pipeline's default REGISTRY_PACKAGE ".": its one job builds this checkout.
    result = merge_request(pipeline, reader_url, redis_url, from_source=True)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "FAIL  validate" in log
    [issue] = json.loads(artifact(repo, "validate", "gl-code-quality-report.json").read_text())
    assert issue["location"]["path"] == "examples/staging.yaml"
    assert "enabeld" in issue["description"]
    assert registry_entries(database_url) == []


def test_default_branch_pipeline_applies_its_plan_then_has_nothing_to_do(
    repo, pipeline, empty_database_url, redis_url
):
    variables = {
        "DATABASE_URL": empty_database_url,
        "REDIS_URL": redis_url,
        "REGISTRY_PLAN_KEY": "pipeline-key",
    }
    first = pipeline(variables, "--manual", "apply:production")
    log = first.stdout + first.stderr
    assert first.returncode == 0, log[-5000:]
    saved = json.loads(artifact(repo, "plan:production", "plan-production.json").read_text())
    assert saved["signature"].startswith("hmac-sha256:")
    # the apply jobs verified the signature (no "origin ... is not verified" warning)
    assert "REGISTRY_PLAN_KEY is unset, so the origin" not in log
    for environment in ("development", "staging", "production"):
        assert f"PASS  apply:{environment}" in log
    entries = registry_entries(empty_database_url)
    assert {e[0] for e in entries} == {"development", "staging", "production"}
    assert ("staging", "mistral-7b", "disabled") in entries
    assert "validate" not in {line.split()[1] for line in log.splitlines() if "PASS " in line}

    second = pipeline(variables, "--manual", "apply:production")
    log = second.stdout + second.stderr
    assert second.returncode == 0, log[-5000:]
    for environment in ("development", "staging", "production"):
        assert job_said(log, f"plan:{environment}", "No changes. The registry matches")
        assert job_said(log, f"apply:{environment}", "No changes to apply.")
    assert registry_entries(empty_database_url) == entries


def test_scheduled_pipeline_fails_on_drift(pipeline, database_url, redis_url):
    variables = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CI_PIPELINE_SOURCE": "schedule",
    }
    drift = pipeline(variables)
    log = drift.stdout + drift.stderr
    assert drift.returncode != 0
    assert "Drift in development: the registry differs from examples/development.yaml" in log
