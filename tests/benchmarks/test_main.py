"""The benchmark harness runs end to end on tiny data and reports every phase and floor.

No timings are asserted: only that each measurement exists and the plan is the one the
generated data implies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import ROOT

PHASES = {
    "plan": {"load+validate", "observe database", "observe kube", "diff", "render"},
    "apply": {"apply write", "invalidate"},
    "resolve": {
        "resolve (local hit)",
        "resolve (cache hit)",
        "resolve (cache miss)",
        "8 threads, local tier (per lookup)",
        "8 threads, Redis only (per lookup)",
    },
    "invalidation": {"invalidation p50", "invalidation p99"},
    "startup": {"registry --help", "registry validate examples/"},
    "declarative": {"2 x registry register", "1 x registry apply"},
}
FLOORS = {
    "plan": {
        "raw libyaml parse",
        "raw libyaml parse, GC paused",
        "raw SELECT",
        "raw list calls",
        "raw list calls, GC paused",
    },
    "apply": {"raw COPY of the same rows (entries, audit, outbox)", "raw Redis pipeline"},
    "resolve": {"raw GET + JSON decode", "raw indexed SELECT + SET"},
    "invalidation": {"raw DEL round trip"},
    "startup": {"python -c 'import typer, yaml, jsonschema'"},
}


def test_the_harness_reports_every_phase_floor_and_ratio(pg_admin_url, redis_url, tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "DATABASE_URL": pg_admin_url, "REDIS_URL": redis_url}
    args = ["--models", "50", "--large-models", "120", "--runs", "1", "--imperative-models", "2"]
    args += ["--invalidations", "5"]
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert answer.returncode == 0, answer.stderr
    results = json.loads(out.read_text())
    for scenario, names in PHASES.items():
        assert set(results[scenario]["phases"]) == names
        assert all(v["median"] > 0 for v in results[scenario]["phases"].values())
    for scenario, names in FLOORS.items():
        assert set(results[scenario]["floors"]) == names
    # 50 models: model-000000 is the one changed (new, so a create); 120: one more, disabled.
    assert results["plan"]["summary"] == {
        "create": 1,
        "update": 0,
        "enable": 0,
        "disable": 0,
        "deregister": 0,
        "unchanged": 49,
    }
    assert results["scale"]["summary"]["disable"] == 1
    assert results["scale"]["peak_rss_bytes"] > 0
    ratios = {row["name"] for row in results["ratios"]}
    assert ratios == {
        "plan",
        "plan, GC-paused floors",
        "apply",
        "resolve hit",
        "resolve local hit",
        "8 threads: Redis only / local tier",
        "invalidation p50",
        "invalidation p99",
        "resolve miss",
        "plan 100k / plan 10k",
        "plan 100k peak RSS",
        "registry --help",
        "registry validate examples/",
        "imperative / declarative",
    }
    assert "plan 100k / plan 10k" in answer.stdout  # the table is printed
