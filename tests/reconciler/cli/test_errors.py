"""The CLI's one mapping of exceptions to messages (reconciler/cli/errors.py), against real
PostgreSQL roles, a real Redis and the fake Kubernetes API server."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from reconciler.cli.errors import user_error
from registry.errors import (
    CacheUnavailable,
    ClusterError,
    DatabaseError,
    Interrupted,
    InvalidName,
    PermissionDenied,
)

pytestmark = pytest.mark.usefixtures("no_kubeconfig")

PASSWORD = "s3cret-pw"


@pytest.fixture
def reader_url(login) -> str:
    """A LOGIN member of registry_reader on the test's (migrated) database."""
    return login("registry_reader", password=PASSWORD)


def one_error(code: int, err: str) -> str:
    assert code == 1, err
    assert "Traceback" not in err and PASSWORD not in err
    [line] = [line for line in err.splitlines() if line.startswith("error: ")]
    assert err.rstrip().endswith(line)
    return line


@pytest.mark.parametrize(
    "command",
    [
        ("register", "-m", "phi-2", "-e", "production"),
        ("cache", "sync"),
    ],
)
def test_a_reader_s_refused_write_is_one_clean_message(registry, reader_url, redis_url, command):
    code, out, err = registry(
        *command,
        env={"DATABASE_URL": reader_url, "REDIS_URL": redis_url, "REGISTRY_AUTO_MIGRATE": "0"},
    )
    line = one_error(code, err)
    assert "permission denied" in line or "may not" in line, line


def test_a_database_error_names_its_sqlstate_without_the_password(conn, database_url):
    from reconciler.cli import session
    from registry.db import Target

    url = make_conninfo(database_url, password=PASSWORD)
    session.begin().database = Target(url=url, description="host db, user owner")
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(f'SELECT * FROM "{PASSWORD}"')
    mapped = user_error(raised.value)
    assert type(mapped) is DatabaseError and mapped.exit_code == 1
    assert str(mapped).startswith(
        'the database (host db, user owner) refused the command (42P01: relation "****" does '
        "not exist); its transaction was rolled back."
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised:
        conn.execute("SET ROLE registry_reader")
        conn.execute("DELETE FROM registry_cache_outbox")
    assert isinstance(user_error(raised.value), PermissionDenied)


def test_a_lost_connection_is_database_unavailable_as_before(database_url):
    from reconciler.cli import session
    from registry.db import Target

    session.begin().database = Target(url=database_url, description="the test database")
    victim = psycopg.connect(database_url, autocommit=True)
    with psycopg.connect(database_url, autocommit=True) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
    with pytest.raises(psycopg.OperationalError) as raised:
        victim.execute("SELECT 1")
    message = str(user_error(raised.value))
    assert message.startswith("failed to connect to database (the test database): the connection")
    assert "run the command again once the server is back" in message


def test_a_redis_error_is_cache_unavailable_without_the_password():
    import redis

    from reconciler.cli import session

    session.begin()
    client = redis.Redis.from_url(f"redis://:{PASSWORD}@127.0.0.1:1/0", socket_connect_timeout=1)
    with pytest.raises(redis.RedisError) as raised:
        client.ping()
    mapped = user_error(raised.value)
    assert isinstance(mapped, CacheUnavailable) and PASSWORD not in str(mapped)
    assert str(mapped).startswith("Redis at REDIS_URL is unavailable (")


def test_kubernetes_errors_are_cluster_errors():
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError

    forbidden = user_error(ApiException(status=403, reason="Forbidden"))
    assert isinstance(forbidden, ClusterError)
    assert str(forbidden).startswith("the Kubernetes API server answered 403 Forbidden: ")
    unreachable = user_error(MaxRetryError(None, "https://admin:pw@10.0.0.1:6443/api"))
    assert isinstance(unreachable, ClusterError) and "admin:pw" not in str(unreachable)


def test_registry_errors_speak_for_themselves_and_bugs_are_none():
    error = InvalidName("invalid model name 'X'")
    assert user_error(error) is error
    assert user_error(ValueError("a bug")) is None
    assert isinstance(user_error(KeyboardInterrupt()), Interrupted)


def test_ctrl_c_exits_130_with_one_line(registry, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("reconciler.operations.load", interrupted)
    code, out, err = registry("validate", str(tmp_path), env={})
    assert code == 130 and out == ""
    assert err.startswith("error: interrupted; ") and err.count("\n") == 1


def test_mapping_imports_no_driver():
    program = (
        "import sys\n"
        "from reconciler.cli.errors import user_error\n"
        "assert user_error(ValueError()) is None\n"
        "drivers = ('psycopg', 'redis', 'kubernetes', 'urllib3')\n"
        "print(sorted(m for m in drivers if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


def test_ctrl_c_of_the_real_command_exits_130_and_writes_nothing(kube, database_url, tmp_path):
    """SIGINT while `apply --wait` waits: one message, exit 130, no traceback, no write."""
    import signal

    from tests.helpers import finish, manifest_file, start_cli, wait_for

    kube.add_model("gpt-neo", "production", paused=True)  # never becomes healthy
    path = manifest_file(tmp_path, "production", "gpt-neo")
    process = start_cli(
        "apply",
        str(path),
        "--auto-approve",
        "--wait",
        "--timeout",
        "300",
        env={"DATABASE_URL": database_url},
    )
    seen = []

    def waiting() -> bool:
        seen.append(process.stderr.readline())
        return "Waiting for" in seen[-1]

    wait_for(waiting, "apply --wait waiting")
    process.send_signal(signal.SIGINT)
    done = finish(process)
    err = "".join(seen) + done.stderr
    assert done.returncode == 130, err
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1].startswith("error: interrupted; ")
    with psycopg.connect(database_url) as check:
        assert check.execute("SELECT count(*) FROM model_registry_entries").fetchone() == (0,)
