"""The Plan: the only contract between deciding a change and applying it.

A plan is a value: the environment, the revision it was made against, and the
changes, each with the entry before and after. Imperative commands and
manifest reconciliation both produce one; ``reconciler.apply`` applies it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.entry import Entry
from registry.vocabulary import Action, Status

from .health import Health

FORMAT_VERSION = "1"


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    action: str
    before: Entry | None
    after: Entry
    fields: tuple[FieldChange, ...] = ()
    reason: str | None = None  # why a model is pending, shown beside the change

    @property
    def model_name(self) -> str:
        return self.after.model_name


@dataclass(frozen=True)
class Observation:
    """The Kubernetes health a plan saw for one model.

    Applying a plan records it (``health``, ``last_health_check``) but it is
    never a change: no revision bump, no audit row.
    """

    model_name: str
    health: str
    checked_at: datetime
    reason: str | None = None
    # The controller's GET /v1/models verdict ('ok' or why not); plans never probe, and
    # saved plans do not carry it.
    probe: str | None = None


def observations(health: Mapping[str, Health] | None) -> tuple[Observation, ...]:
    """The observations to record from ``observe_health``'s answer (None: nothing seen)."""
    return tuple(
        Observation(model, h.status, h.checked_at, h.reason)
        for model, h in sorted((health or {}).items())
        if h.checked_at is not None
    )


@dataclass(frozen=True)
class Plan:
    environment: str
    base_revision: int
    changes: tuple[Change, ...] = ()
    unchanged: int = 0
    unmanaged: tuple[str, ...] = ()  # entries the manifest does not list, left alone
    warnings: tuple[str, ...] = ()
    observations: tuple[Observation, ...] = ()
    # Set (to the explanation) when the plan disables or deregisters more than half of
    # the environment's ready entries, and more than one: `apply` then refuses it
    # without --allow-mass-removal.
    mass_removal: str | None = None
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(Action.values(), 0)
        for change in self.changes:
            counts[change.action] += 1
        return {**counts, "unchanged": self.unchanged}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "plan_id": self.plan_id,
            "created_at": self.created_at,
            "environment": self.environment,
            "revision": self.base_revision,
            "summary": self.summary(),
            "changes": [_change_to_dict(c) for c in self.changes],
            "unmanaged": list(self.unmanaged),
            "warnings": list(self.warnings),
            "mass_removal": self.mass_removal,
            "observations": [
                {
                    "model_name": o.model_name,
                    "health": o.health,
                    "reason": o.reason,
                    "checked_at": o.checked_at.isoformat(),
                }
                for o in self.observations
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            environment=data["environment"],
            base_revision=data["revision"],
            changes=tuple(_change_from_dict(c) for c in data["changes"]),
            unchanged=data["summary"]["unchanged"],
            unmanaged=tuple(data.get("unmanaged", ())),
            warnings=tuple(data.get("warnings", ())),
            mass_removal=data.get("mass_removal"),
            observations=tuple(
                Observation(
                    o["model_name"],
                    o["health"],
                    datetime.fromisoformat(o["checked_at"]),
                    o.get("reason"),
                )
                for o in data.get("observations", ())
            ),
            plan_id=data["plan_id"],
            created_at=data["created_at"],
        )


def _entry_to_dict(entry: Entry | None) -> dict[str, Any] | None:
    return None if entry is None else {**entry.to_dict(), "deregistered": entry.deregistered}


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "model_name": change.model_name,
        "before": _entry_to_dict(change.before),
        "after": _entry_to_dict(change.after),
        "fields": [{"name": f.name, "old": f.old, "new": f.new} for f in change.fields],
        "reason": change.reason,
    }


def _change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        action=data["action"],
        before=Entry.from_dict(data["before"]) if data["before"] else None,
        after=Entry.from_dict(data["after"]),
        fields=tuple(FieldChange(f["name"], f["old"], f["new"]) for f in data.get("fields", ())),
        reason=data.get("reason"),
    )


def change_for(before: Entry | None, after: Entry, reason: str | None = None) -> Change | None:
    """Classify the move from ``before`` to ``after``; None when nothing changes.

    Only the spec fields count (namespace, endpoint, status, managed_by,
    deregistered); ids, timestamps and health are bookkeeping.
    """
    if before is None:
        return Change(Action.CREATE, None, after, reason=reason)
    old, new = before.spec(), after.spec()
    if old == new:
        return None
    fields = _field_changes(old, new)
    names = {f.name for f in fields}
    if new["deregistered"] and not old["deregistered"]:
        action = Action.DEREGISTER
    elif (
        names <= {"status", "deregistered"}
        and old["status"] == Status.DISABLED
        and new["status"] != Status.DISABLED
    ):
        action = Action.ENABLE
    elif names == {"status"} and new["status"] == Status.DISABLED:
        action = Action.DISABLE
    else:
        action = Action.UPDATE
    return Change(action, before, after, fields, reason)


def _field_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[FieldChange, ...]:
    # The spec is flat (five scalars of fixed types), so a key-by-key comparison is the
    # whole diff; deepdiff cost ~150 ms of import in every plan with an update.
    return tuple(
        FieldChange(name, old[name], new[name]) for name in sorted(old) if old[name] != new[name]
    )
