"""`python -m benchmarks.controller_run`: the controller at scale (issue 13's targets).

    python -m benchmarks.controller_run                    # 10,000 entries, 100 changes, 60 s
    python -m benchmarks.controller_run --quiet 30 --json out.json

Registers N entries over 10 namespaces (through the one write path), serves their
Deployments and Services from the tests' fake API server (watches included), and
runs `registry controller --no-probe` as a subprocess against real PostgreSQL and
Redis. It measures:
- latency: a Deployment loses its replicas -> its cache key is gone from Redis
  (p50, p99 over the changes; target p99 <= 1 s);
- CPU of the controller process in a quiet window (utime + stime from
  /proc/PID/stat; target < 2% of one core);
- its peak RSS (VmHWM; target < 300 MiB);
- API requests in the quiet window by kind (target: none but watches and probes;
  probes are off here, so none at all beyond the open watches' bookmarks).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from registry.entry import Entry, cache_key
from registry.names import convention_endpoint

from . import servers
from .scenarios import healthy

ENVIRONMENT = "production"
NAMESPACES = 10
BIN = Path(sys.executable).parent
MIB = 1024 * 1024


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.controller_run")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--quiet", type=float, default=60.0, help="seconds of the quiet window")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def populate(database_url: str, redis_url: str, entries: list[Entry]) -> None:
    from reconciler.apply import apply
    from reconciler.diff import plan_environment
    from registry import db
    from registry.cache import Cache

    conn = db.connect(db.Target(database_url, "benchmark database"))
    plan = plan_environment(
        entries, [], environment=ENVIRONMENT, revision=0, prune=False, health=healthy(entries)
    )
    apply(conn, plan, actor="benchmark", cache=Cache(redis_url))
    conn.close()


def wait_for(what: str, check, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run(args: argparse.Namespace) -> dict:
    import redis

    sys.path.insert(0, str(servers.ROOT))
    from tests.fakes.kube import FakeKube, deployment

    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="registry-ctl-")))
        database_url, _ = stack.enter_context(servers.postgres(workdir))
        redis_url, _ = stack.enter_context(servers.redis_server(workdir))
        kube = FakeKube(context="benchmark")
        stack.callback(kube.close)
        entries = []
        for i in range(args.models):
            name, namespace = f"model-{i:06d}", f"bench-{i % NAMESPACES}"
            endpoint = convention_endpoint(name, ENVIRONMENT, namespace)
            entries.append(Entry(name, ENVIRONMENT, namespace, endpoint, managed_by="manifest"))
            kube.add_model(name, ENVIRONMENT, namespace)
        populate(database_url, redis_url, entries)
        log = workdir / "controller.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "KUBECONFIG": str(kube.write_kubeconfig(workdir / "kubeconfig")),
        }
        process = subprocess.Popen(
            [str(BIN / "registry"), "controller", "-e", ENVIRONMENT, "--no-probe"]
            + ["--no-leader-election", "--metrics-port", "0"],
            env=env,
            stderr=log.open("w"),
        )
        stack.callback(process.wait, 10)
        stack.callback(process.terminate)
        wait_for(
            "the controller to list every namespace",
            lambda: log.read_text().count("observing") == 2 * NAMESPACES,
        )
        time.sleep(3)  # its first reconcile of every entry
        client = redis.Redis.from_url(redis_url)
        latencies = []
        step = max(1, args.models // args.changes)
        for entry in entries[::step][: args.changes]:
            key = cache_key(ENVIRONMENT, entry.model_name)
            client.set(key, "cached")
            name = f"{entry.model_name}-{ENVIRONMENT}"
            began = time.perf_counter()
            kube.set_deployment(deployment(name, entry.namespace, ready=0))
            while client.exists(key):
                time.sleep(0.001)
            latencies.append(time.perf_counter() - began)
        time.sleep(5)  # let the last writes settle
        requests_before, cpu_before = kube.requests_by_kind(), cpu_seconds(process.pid)
        time.sleep(args.quiet)
        cpu = cpu_seconds(process.pid) - cpu_before
        requests = kube.requests_by_kind() - requests_before
        rss = peak_rss(process.pid)
        latencies.sort()
        return {
            "entries": args.models,
            "namespaces": NAMESPACES,
            "changes": len(latencies),
            "latency_p50_s": statistics.median(latencies),
            "latency_p99_s": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            "quiet_window_s": args.quiet,
            "quiet_cpu_percent_of_one_core": 100 * cpu / args.quiet,
            "peak_rss_mib": rss / MIB,
            "quiet_api_requests": dict(requests),
            "quiet_api_requests_per_minute": sum(requests.values()) * 60 / args.quiet,
        }


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    figures = run(args)
    targets = (
        ("latency_p99_s", 1.0, "s"),
        ("quiet_cpu_percent_of_one_core", 2.0, "%"),
        ("peak_rss_mib", 300.0, "MiB"),
    )
    for name, limit, unit in targets:
        verdict = "ok" if figures[name] <= limit else "OVER"
        print(f"{name:32} {figures[name]:10.3f} {unit:4} (target <= {limit:g}) {verdict}")
    print(f"{'latency_p50_s':32} {figures['latency_p50_s']:10.3f} s")
    print(f"{'quiet_api_requests':32} {figures['quiet_api_requests']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
