"""One `plan` of a manifest in a fresh interpreter, phase by phase, beside its floors.

``python -m benchmarks.plan_run MANIFEST DATABASE_URL KUBE_URL [--no-floors]``
(KUBECONFIG set) prints one JSON object: seconds per phase and per floor, and
the peak RSS of the process. A fresh interpreter per run, so that imports are
paid where `registry plan` pays them (kubernetes in observe kube, deepdiff in
diff). The phases are the steps of ``reconcile.plan_manifests`` and the text
rendering, called one by one to time each.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.kube import TOKEN

PAUSED = ", GC paused"  # suffix of the stricter floors' names
RAW_SELECT = (
    "SELECT id, model_name, environment, namespace, endpoint, status, health, managed_by,"
    " last_health_check, created_at, updated_at, deregistered_at"
    " FROM model_registry_entries WHERE environment = %s"
)


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def raw_lists(http: Any, kube_url: str, namespaces: list[str]) -> list[dict[str, Any]]:
    """The floor of observe kube: the same list calls, JSON-decoded, nothing else."""
    answers = []
    for namespace in namespaces:
        for path in (
            f"/apis/apps/v1/namespaces/{namespace}/deployments",
            f"/api/v1/namespaces/{namespace}/services",
        ):
            response = http.request(
                "GET", kube_url + path, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            answers.append(json.loads(response.data))
    return answers


def run(manifest_path: Path, database_url: str, kube_url: str, floors: bool) -> dict[str, Any]:
    import psycopg
    import urllib3
    import yaml

    from reconciler import gcpause, observe, render
    from reconciler.diff import plan_environment
    from reconciler.manifest import load_paths
    from registry import store
    from registry.settings import Settings

    phases: dict[str, float] = {}
    floor: dict[str, float] = {}
    conn = psycopg.connect(database_url, autocommit=True)
    # The parse and list floors are measured twice: as a plain script runs them, and
    # with the garbage collector paused as the loader and the observation pause it
    # (stricter: a floor that pays for no collection at all). The README shows both.
    if floors:

        def parse() -> Any:
            return yaml.load(manifest_path.read_bytes(), Loader=yaml.CSafeLoader)

        floor["raw libyaml parse"], _ = timed(parse)
        with gcpause.paused():
            floor[f"raw libyaml parse{PAUSED}"], _ = timed(parse)
    phases["load+validate"], loaded = timed(lambda: load_paths([manifest_path]))
    if not loaded.ok:
        raise SystemExit("\n".join(map(str, loaded.errors)))
    manifest = loaded.manifests[0]
    if floors:
        floor["raw SELECT"], _ = timed(
            lambda: conn.execute(RAW_SELECT, (manifest.environment,)).fetchall()
        )
    phases["observe database"], (revision, current) = timed(
        lambda: store.snapshot(conn, manifest.environment)
    )
    desired = manifest.desired_entries()
    enabled = [entry for entry in desired if entry.status == "ready"]
    if floors:
        namespaces = sorted({entry.namespace for entry in enabled})
        http = urllib3.PoolManager()
        floor["raw list calls"], _ = timed(lambda: raw_lists(http, kube_url, namespaces))
        with gcpause.paused():
            floor[f"raw list calls{PAUSED}"], _ = timed(
                lambda: raw_lists(http, kube_url, namespaces)
            )
    phases["observe kube"], health = timed(
        lambda: observe.observe_health(
            enabled, source=observe.KubeSource.from_settings(Settings.from_env())
        )
    )
    phases["diff"], plan = timed(
        lambda: plan_environment(
            desired,
            current,
            environment=manifest.environment,
            revision=revision,
            prune=manifest.prune,
            health=health,
        )
    )
    phases["render"], _ = timed(lambda: render.plans_text([plan]))
    conn.close()
    return {
        "phases": phases,
        "floors": floor,
        "summary": plan.summary(),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    manifest, database_url, kube_url = sys.argv[1:4]
    result = run(Path(manifest), database_url, kube_url, floors="--no-floors" not in sys.argv)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
