"""Manifests -> plans: the one place where desired state meets the registry (and the cluster).

``plan`` and ``apply`` both go through ``plan_manifests``, so whatever is
observed before planning (registry rows, Kubernetes health) is observed the
same way for both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from registry.entry import Entry

from .diff import plan_environment
from .health import Health
from .manifest import Manifest
from .plan import Plan

if TYPE_CHECKING:
    import psycopg

# Given a manifest and its desired entries, the health of their deployments;
# None when Kubernetes was not observed.
HealthFor = Callable[[Manifest, Sequence[Entry]], Mapping[str, Health] | None]


def plan_manifests(
    conn: psycopg.Connection,
    manifests: Sequence[Manifest],
    health_for: HealthFor | None = None,
) -> list[Plan]:
    """One plan per manifest, against a consistent snapshot of its environment."""
    from registry import store

    plans = []
    for manifest in manifests:
        revision, current = store.snapshot(conn, manifest.environment)
        desired = manifest.desired_entries()
        health = health_for(manifest, desired) if health_for else None
        plans.append(
            plan_environment(
                desired,
                current,
                environment=manifest.environment,
                revision=revision,
                prune=manifest.prune,
                health=health,
            )
        )
    return plans
