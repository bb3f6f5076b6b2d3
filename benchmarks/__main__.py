"""`python -m benchmarks`: run every scenario, print phases beside floors, write JSON.

    python -m benchmarks                        # 10,000 and 100,000 models, 5 runs each
    python -m benchmarks --models 2000 --large-models 0 --runs 3 --json out.json

Uses DATABASE_URL / REDIS_URL when set, embedded servers otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import data, scenarios, servers
from .plan_run import PAUSED

RESULTS = Path(__file__).resolve().parent / "results"
GIB = 1024**3

# (target, limit): a ratio of medians that must stay at or under the limit.
TARGETS = {
    "plan": 2.0,
    "apply": 2.0,
    "resolve hit": 1.3,
    "resolve local hit": 0.1,
    "invalidation p99": 50.0,  # milliseconds, from a DEL to another process's lookups
    "resolve miss": 1.5,
    "plan 100k / plan 10k": 12.0,
    "registry --help": 1.5,
    "registry validate examples/": 1.5,
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time plan, apply, resolve and start-up beside raw-I/O floors measured "
        "in the same run; print ratios and write JSON.",
    )
    parser.add_argument("--models", type=int, default=10_000, help="models of the main plan")
    parser.add_argument(
        "--large-models", type=int, default=100_000, help="models of the scale run (0: skip)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (medians)")
    parser.add_argument(
        "--imperative-models",
        type=int,
        default=100,
        help="models registered one by one vs one apply (0: skip)",
    )
    parser.add_argument(
        "--invalidations",
        type=int,
        default=200,
        help="DELs timed per run until another process stops answering from memory",
    )
    parser.add_argument(
        "--json", type=Path, help="where to write the results (default: benchmarks/results/)"
    )
    return parser.parse_args(argv)


def medians(runs: list[dict[str, Any]], part: str) -> dict[str, dict[str, Any]]:
    names = runs[0][part]
    return {
        name: {
            "median": statistics.median(r[part][name] for r in runs),
            "runs": [r[part][name] for r in runs],
        }
        for name in names
    }


def scenario(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"phases": medians(runs, "phases"), "floors": medians(runs, "floors")}


def total(part: dict[str, dict[str, Any]], names: list[str] | None = None) -> float:
    return sum(v["median"] for k, v in part.items() if names is None or k in names)


def repeat(runs: int, function: Callable[[int], Any], label: str) -> list[Any]:
    results = []
    for run in range(runs):
        print(f"  {label}: run {run + 1}/{runs}", file=sys.stderr, flush=True)
        results.append(function(run))
    return results


def measure(options: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    runs = options.runs
    main = data.generate(options.models, "bench", "team", workdir)
    large = (
        data.generate(options.large_models, "bench-large", "large", workdir)
        if options.large_models
        else None
    )
    served = main.served() + (large.served() if large else [])
    served += scenarios.declarative_served(options.imperative_models, runs)
    print("starting servers ...", file=sys.stderr, flush=True)
    with servers.start(served) as running:
        from registry import db
        from registry.cache import Cache

        results: dict[str, Any] = {"servers": running.descriptions}
        conn = db.connect(db.Target(running.database_url, "benchmark database"))
        cache = Cache(running.redis_url)
        print("populating the registry ...", file=sys.stderr, flush=True)
        scenarios.populate(running, main)
        if large:
            scenarios.populate(running, large)

        plans = repeat(runs, lambda _: scenarios.plan(running, main), f"plan {options.models}")
        results["plan"] = {**scenario(plans), "summary": plans[0]["summary"]}
        results["apply"] = scenario(
            repeat(
                runs,
                lambda run: scenarios.apply_creates(running, conn, cache, options.models, run),
                f"apply {options.models} creates",
            )
        )
        results["resolve"] = scenario(
            repeat(
                runs,
                lambda _: scenarios.resolve(running, conn, cache, main, min(1000, options.models)),
                "resolve",
            )
        )
        results["invalidation"] = scenario(
            repeat(
                runs,
                lambda _: scenarios.invalidation(running, main, options.invalidations),
                "invalidation",
            )
        )
        results["startup"] = scenario(
            repeat(runs, lambda _: scenarios.startup(running), "start-up")
        )
        if large:
            big = repeat(
                runs,
                lambda _: scenarios.plan(running, large, floors=False),
                f"plan {options.large_models}",
            )
            results["scale"] = {
                "models": options.large_models,
                "phases": medians(big, "phases"),
                "peak_rss_bytes": max(r["peak_rss_bytes"] for r in big),
                "summary": big[0]["summary"],
            }
        if options.imperative_models:
            results["declarative"] = scenario(
                repeat(
                    runs,
                    lambda run: scenarios.declarative_vs_imperative(
                        running, options.imperative_models, run, workdir
                    ),
                    "declarative vs imperative",
                )
            )
        cache.close()
        conn.close()
    return results


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target as {name, value, limit, ok}; the comparison without a target has no limit."""
    rows = []

    def add(name: str, value: float, limit: float | None, unit: str = "x") -> None:
        ok = None if limit is None else value <= limit
        rows.append({"name": name, "value": value, "limit": limit, "unit": unit, "ok": ok})

    plan, apply_, resolve, startup = (results[k] for k in ("plan", "apply", "resolve", "startup"))
    # Plain floors, and the stricter set: each floor's GC-paused variant where it has one.
    plain = [name for name in plan["floors"] if not name.endswith(PAUSED)]
    strict = [name for name in plan["floors"] if f"{name}{PAUSED}" not in plan["floors"]]
    add("plan", total(plan["phases"]) / total(plan["floors"], plain), TARGETS["plan"])
    add("plan, GC-paused floors", total(plan["phases"]) / total(plan["floors"], strict), None)
    add("apply", total(apply_["phases"]) / total(apply_["floors"]), TARGETS["apply"])
    hit, miss = resolve["phases"], resolve["floors"]
    add(
        "resolve hit",
        hit["resolve (cache hit)"]["median"] / miss["raw GET + JSON decode"]["median"],
        TARGETS["resolve hit"],
    )
    add(
        "resolve local hit",
        hit["resolve (local hit)"]["median"] / miss["raw GET + JSON decode"]["median"],
        TARGETS["resolve local hit"],
    )
    add(
        "8 threads: Redis only / local tier",
        hit["8 threads, Redis only (per lookup)"]["median"]
        / hit["8 threads, local tier (per lookup)"]["median"],
        None,
    )
    invalidation = results["invalidation"]["phases"]
    for name in ("invalidation p50", "invalidation p99"):
        add(name, invalidation[name]["median"] * 1000, TARGETS.get(name), " ms")
    add(
        "resolve miss",
        hit["resolve (cache miss)"]["median"] / miss["raw indexed SELECT + SET"]["median"],
        TARGETS["resolve miss"],
    )
    if "scale" in results:
        add(
            "plan 100k / plan 10k",
            total(results["scale"]["phases"]) / total(plan["phases"]),
            TARGETS["plan 100k / plan 10k"],
        )
        add("plan 100k peak RSS", results["scale"]["peak_rss_bytes"] / GIB, 1.0, " GiB")
    floor = total(startup["floors"])
    for command in ("registry --help", "registry validate examples/"):
        add(command, startup["phases"][command]["median"] / floor, TARGETS[command])
    if "declarative" in results:
        phases = results["declarative"]["phases"]
        imperative = next(v for k, v in phases.items() if "register" in k)
        add(
            "imperative / declarative",
            imperative["median"] / phases["1 x registry apply"]["median"],
            None,
        )
    return rows


def table(results: dict[str, Any]) -> str:
    def ms(seconds: float) -> str:
        if seconds < 0.001:  # one lookup
            return f"{seconds * 1e6:10.1f} us"
        return f"{seconds * 1000:10.1f} ms" if seconds < 100 else f"{seconds:10.1f} s"

    lines = [f"{'scenario':<14}{'phase / floor':<46}{'median':>13}"]
    for name in ("plan", "apply", "resolve", "invalidation", "startup", "scale", "declarative"):
        if name not in results:
            continue
        part = results[name]
        label = {"scale": f"plan {part.get('models', '')}"}.get(name, name)
        lines.append("")
        for phase, value in part["phases"].items():
            lines.append(f"{label:<14}{phase:<46}{ms(value['median']):>13}")
            label = ""
        for floor, value in part.get("floors", {}).items():
            lines.append(f"{'':<14}{'floor: ' + floor:<46}{ms(value['median']):>13}")
    lines += ["", f"{'ratio':<40}{'measured':>12}{'target':>12}  verdict"]
    for row in results["ratios"]:
        unit = row["unit"]
        value = f"{row['value']:.2f}{unit}"
        limit = "" if row["limit"] is None else f"<= {row['limit']:g}{unit}"
        if row["name"] == "plan 100k peak RSS":
            limit = f"< {row['limit']:g}{unit}"
        verdict = {None: "reported", True: "ok", False: "MISSED"}[row["ok"]]
        lines.append(f"{row['name']:<40}{value:>12}{limit:>12}  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    with tempfile.TemporaryDirectory(prefix="registry-bench-data-") as folder:
        results = measure(options, Path(folder))
    results["ratios"] = ratios(results)
    results["meta"] = {
        "models": options.models,
        "large_models": options.large_models,
        "imperative_models": options.imperative_models,
        "invalidations": options.invalidations,
        "runs": options.runs,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    path = options.json or RESULTS / time.strftime("%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"\nresults written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
