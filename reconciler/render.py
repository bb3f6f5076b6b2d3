"""Rendering values for people and machines. Pure: values in, text out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from registry.entry import Entry

from .plan import Change, Plan

ENTRY_FIELDS = (
    "id",
    "model_name",
    "environment",
    "namespace",
    "endpoint",
    "status",
    "health",
    "last_health_check",
    "managed_by",
    "created_at",
    "updated_at",
    "deregistered_at",
)
LIST_COLUMNS = (
    "ID",
    "Model Name",
    "Endpoint",
    "Status",
    "Environment",
    "Namespace",
    "Last Health",
    "Updated",
)


def _minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces, like the admin-cli output."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def entries_table(entries: Sequence[Entry]) -> str:
    head = f"Found {len(entries)} model deployment(s)"
    if not entries:
        return head
    rows = [
        (
            e.id,
            e.model_name,
            e.endpoint,
            e.status,
            e.environment,
            e.namespace,
            _minute(e.last_health_check),
            _minute(e.updated_at),
        )
        for e in entries
    ]
    return f"{head}\n\n{table(LIST_COLUMNS, rows)}"


def entries_json(entries: Sequence[Entry]) -> str:
    return json.dumps([e.to_dict() for e in entries], indent=2)


def entries_csv(entries: Sequence[Entry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ENTRY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow({k: "" if v is None else v for k, v in entry.to_dict().items()})
    return out.getvalue().rstrip("\n")


SYMBOLS = {"create": "+", "update": "~", "enable": "~", "disable": "~", "deregister": "-"}
SHOWN_ON_CREATE = ("namespace", "endpoint", "status", "managed_by")


def _change_text(change: Change) -> list[str]:
    label = "" if change.action in ("create", "update") else f" ({change.action})"
    lines = [f"  {SYMBOLS[change.action]} {change.model_name}{label}"]
    if change.action == "create":
        pairs = [(name, json.dumps(getattr(change.after, name))) for name in SHOWN_ON_CREATE]
    else:
        pairs = [(f.name, f"{json.dumps(f.old)} -> {json.dumps(f.new)}") for f in change.fields]
    if change.reason:
        pairs.append(("reason", change.reason))
    width = max((len(name) for name, _ in pairs), default=0)
    lines += [f"      {name.ljust(width)} = {value}" for name, value in pairs]
    return lines


def plan_summary_line(plan: Plan) -> str:
    s = plan.summary()
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['enable']} to enable, "
        f"{s['disable']} to disable, {s['deregister']} to deregister; {s['unchanged']} unchanged."
    )


def plan_text(plan: Plan) -> str:
    """A plan in the style of ``terraform plan``."""
    head = f'Environment "{plan.environment}" (revision {plan.base_revision}):'
    if not plan.has_changes:
        return (
            f"{head}\n\nNo changes. The registry matches the desired state "
            f"({plan.unchanged} unchanged)."
        )
    lines = [head, ""]
    for change in plan.changes:
        lines += _change_text(change)
    lines += ["", plan_summary_line(plan)]
    return "\n".join(lines)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
