"""The scenarios: each run returns seconds per phase and per floor, measured side by side."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.entry import Entry, cache_key
from registry.names import convention_endpoint

from .data import Dataset
from .plan_run import timed
from .servers import ROOT, Servers

Run = dict[str, dict[str, float]]  # {"phases": {name: s}, "floors": {name: s}}
BIN = Path(sys.executable).parent


def healthy(entries: list[Entry]) -> dict[str, Any]:
    """What the cluster says of every entry: its Deployment is Healthy, just now."""
    from reconciler.health import Health

    now = datetime.now(UTC)
    return {e.model_name: Health("Healthy", None, 1, 1, now) for e in entries}


def populate(servers: Servers, dataset: Dataset) -> None:
    """Register the dataset's models through the one write path (a plan of creates)."""
    from reconciler.apply import apply
    from reconciler.diff import plan_environment
    from registry import db
    from registry.cache import Cache

    conn = db.connect(db.Target(servers.database_url, "benchmark database"))
    cache = Cache(servers.redis_url)
    registered = dataset.registered()
    plan = plan_environment(
        registered,
        [],
        environment=dataset.environment,
        revision=0,
        prune=False,
        health=healthy(registered),
    )
    apply(conn, plan, actor="benchmark", cache=cache)
    cache.close()
    conn.close()


def plan(servers: Servers, dataset: Dataset, *, floors: bool = True) -> dict[str, Any]:
    """One `plan` in a fresh interpreter (benchmarks.plan_run)."""
    answer = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.plan_run",
            str(dataset.manifest),
            servers.database_url,
            servers.kube_url,
            *([] if floors else ["--no-floors"]),
        ],
        cwd=ROOT,
        env=servers.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode:
        raise RuntimeError(f"benchmarks.plan_run failed:\n{answer.stderr}")
    return json.loads(answer.stdout)


def apply_creates(servers: Servers, conn: Any, cache: Any, count: int, run: int) -> Run:
    """Apply a plan of ``count`` creates (with their observed health) to a new environment."""
    from reconciler.apply import apply
    from reconciler.diff import plan_environment
    from registry.cache import sync_outbox

    environment = f"apply-{run}"
    desired = [
        Entry(
            model_name=f"model-{i:06d}",
            environment=environment,
            namespace=f"team-{i % 10}",
            endpoint=convention_endpoint(f"model-{i:06d}", environment, f"team-{i % 10}"),
            managed_by="manifest",
        )
        for i in range(count)
    ]
    now = datetime.now(UTC)
    change_plan = plan_environment(
        desired, [], environment=environment, revision=0, prune=False, health=healthy(desired)
    )
    keys = [cache_key(environment, e.model_name) for e in desired]
    rows = [
        (e.model_name, e.environment, e.namespace, e.endpoint, "ready", "Healthy", "manifest", now)
        for e in desired
    ]
    audit_rows = [
        # The last column is chain_hash, the 32 bytes each row carries (migration 0002).
        (
            environment,
            1,
            "plan",
            "create",
            e.model_name,
            "benchmark",
            None,
            None,
            after,
            hashlib.sha256(after.encode()).digest(),
        )  # fmt: skip
        for e, after in zip(
            desired, (json.dumps(c.after.to_dict()) for c in change_plan.changes), strict=True
        )
    ]

    def raw_insert() -> None:
        """The rows an apply of creates must write, by COPY: entries, audit rows, outbox keys."""
        with conn.transaction(force_rollback=True), conn.cursor() as cur:
            with cur.copy(
                "COPY model_registry_entries (model_name, environment, namespace, endpoint,"
                " status, health, managed_by, last_health_check) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
            # Into a trigger-free copy of the audit table: migration 0004's guard refuses
            # rows whose hashes do not continue the chain, and the floor is the raw write.
            cur.execute(
                "CREATE TEMP TABLE audit_floor (LIKE registry_audit_log INCLUDING DEFAULTS)"
                " ON COMMIT DROP"
            )
            with cur.copy(
                "COPY audit_floor (environment, revision, plan_id, action, model_name,"
                " actor, commit_sha, pipeline_url, after, chain_hash) FROM STDIN"
            ) as copy:
                for row in audit_rows:
                    copy.write_row(row)
            with cur.copy("COPY registry_cache_outbox (cache_key) FROM STDIN") as copy:
                for key in keys:
                    copy.write_row((key,))

    def raw_pipeline() -> None:
        pipe = cache.client.pipeline(transaction=False)
        for start in range(0, len(keys), 1000):
            pipe.delete(*keys[start : start + 1000])
        pipe.execute()

    def cached() -> None:  # the router has every key cached: the deletes do real work
        cache.client.mset(dict.fromkeys(keys, b"{}"))

    floors, phases = {}, {}
    floors["raw COPY of the same rows (entries, audit, outbox)"], _ = timed(raw_insert)
    phases["apply write"], _ = timed(lambda: apply(conn, change_plan, actor="benchmark"))
    cached()
    floors["raw Redis pipeline"], _ = timed(raw_pipeline)
    cached()
    phases["invalidate"], _ = timed(lambda: sync_outbox(conn, cache))
    return {"phases": phases, "floors": floors}


def resolve(servers: Servers, conn: Any, cache: Any, dataset: Dataset, count: int) -> Run:
    """Per lookup: local hits, Redis hits and misses of ``Resolver.resolve`` beside raw
    Redis/SQL, and 8 threads with and without the local tier."""
    from registry.cache import Cache, Route, encode
    from registry.lookup import Resolver

    environment = dataset.environment
    models = [e.model_name for e in dataset.registered()][:count]
    keys = [cache_key(environment, m) for m in models]
    # Their own Caches: close() ends the resolvers' threads and pools, not the caller's cache.
    # The Redis tier alone, then all three tiers.
    resolver = Resolver(
        servers.database_url, cache=Cache(servers.redis_url), ttl=120, local_cache_size=0
    )
    tiered = Resolver(servers.database_url, cache=Cache(servers.redis_url), ttl=120)
    client = cache.client
    select = (
        "SELECT namespace, endpoint, status FROM model_registry_entries"
        " WHERE model_name = %s AND environment = %s"
    )

    def each(function: Callable[[str, str], Any]) -> float:
        def run() -> None:
            for model, key in zip(models, keys, strict=True):
                function(model, key)
            resolver.flush()  # the background fills count: the time ends when they are done

        seconds, _ = timed(run)
        return seconds / len(models)

    def raw_hit(model: str, key: str) -> Any:
        return json.loads(client.get(key))

    def raw_miss(model: str, key: str) -> Any:
        namespace, endpoint, status = conn.execute(select, (model, environment)).fetchone()
        value = encode(Route(model, environment, namespace, endpoint, status))
        return client.set(key, value, px=120_000)

    def lookup(model: str, key: str) -> Any:
        return resolver.resolve(model, environment)

    def local(model: str, key: str) -> Any:
        return tiered.resolve(model, environment)

    client.delete(*keys)
    miss = each(lookup)
    client.delete(*keys)
    miss_floor = each(raw_miss)
    resolver.resolve(models[0], environment)  # the pool's first connection is set up
    hit = each(lookup)
    hit_floor = each(raw_hit)
    while not tiered.local_cache_active:
        time.sleep(0.01)
    each(local)  # Redis hits: each route is now held in memory
    local_hit = each(local)
    threads_redis = _threads(resolver, environment, models)
    threads_local = _threads(tiered, environment, models)
    resolver.close()
    tiered.close()
    return {
        "phases": {
            "resolve (local hit)": local_hit,
            "resolve (cache hit)": hit,
            "resolve (cache miss)": miss,
            "8 threads, local tier (per lookup)": threads_local,
            "8 threads, Redis only (per lookup)": threads_redis,
        },
        "floors": {"raw GET + JSON decode": hit_floor, "raw indexed SELECT + SET": miss_floor},
    }


THREADS = 8


def _threads(resolver: Any, environment: str, models: list[str], rounds: int = 3) -> float:
    """Wall time per lookup of THREADS threads each resolving every model ``rounds`` times."""
    import threading

    start = threading.Barrier(THREADS + 1)

    def run() -> None:
        start.wait()
        for _ in range(rounds):
            for model in models:
                resolver.resolve(model, environment)

    workers = [threading.Thread(target=run) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - began) / (THREADS * rounds * len(models))


def invalidation(servers: Servers, dataset: Dataset, count: int) -> Run:
    """Seconds from a `DEL` of a route's key to another process no longer answering from
    its in-process copy, ``count`` times: p50 and p99; beside the DEL's own round trip."""
    import statistics

    import redis

    environment = dataset.environment
    model = dataset.registered()[0].model_name
    key = cache_key(environment, model)
    router = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.router_process", "serve"]
        + [servers.database_url, servers.redis_url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask(*words: str) -> dict[str, Any]:
        router.stdin.write(" ".join(words) + "\n")
        router.stdin.flush()
        return json.loads(router.stdout.readline())

    client = redis.Redis.from_url(servers.redis_url)
    latencies, deletes = [], []
    try:
        for _ in range(count):
            while ask("resolve", model, environment)["source"] != "local":
                time.sleep(0.002)  # the miss's fill, then a Redis hit that keeps the copy
            router.stdin.write(f"drop {model} {environment}\n")
            router.stdin.flush()
            if router.stdout.readline() != "watching\n":
                raise RuntimeError("the router process did not start watching")
            before = time.monotonic()
            client.delete(key)
            deletes.append(time.monotonic() - before)
            latencies.append(json.loads(router.stdout.readline())["dropped_at"] - before)
    finally:
        client.close()
        router.stdin.close()
        router.wait(60)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    return {
        "phases": {"invalidation p50": statistics.median(latencies), "invalidation p99": p99},
        "floors": {"raw DEL round trip": statistics.median(deletes)},
    }


def _seconds(command: list[str], env: dict[str, str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    answer = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if answer.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{answer.stderr}")
    return seconds


def startup(servers: Servers) -> Run:
    """Wall time of whole commands that need no server, beside importing their libraries."""
    env = servers.env()
    return {
        "phases": {
            "registry --help": _seconds([str(BIN / "registry"), "--help"], env),
            "registry validate examples/": _seconds(
                [str(BIN / "registry"), "validate", "examples/"], env
            ),
        },
        "floors": {
            "python -c 'import typer, yaml, jsonschema'": _seconds(
                [sys.executable, "-c", "import typer, yaml, jsonschema"], env
            )
        },
    }


DECLARATIVE_NAMESPACE = "ops"


def declarative_served(count: int, runs: int) -> list[tuple[str, str, str]]:
    """The Deployments the declarative/imperative comparison registers, one set per run."""
    return [
        (f"model-{i:06d}", f"{how}-{run}", DECLARATIVE_NAMESPACE)
        for run in range(runs)
        for how in ("imperative", "declarative")
        for i in range(count)
    ]


def declarative_vs_imperative(servers: Servers, count: int, run: int, folder: Path) -> Run:
    """``count`` `registry register` calls against one `registry apply` of the same models."""
    from .data import Model, manifest_text

    env = servers.env()
    registry = str(BIN / "registry")
    imperative, declarative = f"imperative-{run}", f"declarative-{run}"
    names = [f"model-{i:06d}" for i in range(count)]
    manifest = folder / f"{declarative}.yaml"
    models = [Model(name, DECLARATIVE_NAMESPACE, True, None) for name in names]
    manifest.write_text(manifest_text(declarative, DECLARATIVE_NAMESPACE, models))

    def register_each() -> None:
        for name in names:
            _seconds(
                [registry, "register", "-m", name, "-e", imperative, "--namespace", "ops"], env
            )

    seconds, _ = timed(register_each)
    return {
        "phases": {
            f"{count} x registry register": seconds,
            "1 x registry apply": _seconds(
                [registry, "apply", str(manifest), "--auto-approve"], env
            ),
        },
        "floors": {},
    }
