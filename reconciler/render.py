"""Rendering values for people and machines. Pure: values in, text out."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from registry.entry import Entry
from registry.vocabulary import Action, Health

from .plan import Change, Plan
from .safe_text import csv_cell, escape, md_code, md_text

if TYPE_CHECKING:
    from registry.store import AuditRecord

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


def minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, show_headers: bool = True
) -> str:
    """Left-aligned columns separated by two spaces, like the admin-cli output.

    Cells are escaped: a CR or an escape sequence in a stored value cannot
    rewrite what the column shows.
    """
    rows = [[escape(cell) for cell in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows] if show_headers else rows
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def csv_rows(
    fields: Sequence[str], rows: Iterable[Sequence[Any]], *, show_headers: bool = True
) -> str:
    """CSV (with a header row unless ``show_headers`` is False); every cell escaped and safe
    to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if show_headers:
        writer.writerow(fields)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return out.getvalue().rstrip("\n")


def entry_rows(entries: Iterable[Entry]) -> Iterable[list[Any]]:
    """The ENTRY_FIELDS of each entry (JSON and CSV use the field names of the table)."""
    return ([e.to_dict()[k] for k in ENTRY_FIELDS] for e in entries)


HISTORY_FIELDS = (
    "id",
    "recorded_at",
    "environment",
    "revision",
    "plan_id",
    "action",
    "model_name",
    "actor",
    "commit_sha",
    "pipeline_url",
    "before",
    "after",
)
HISTORY_COLUMNS = (
    "ID",
    "When",
    "Environment",
    "Revision",
    "Action",
    "Model Name",
    "Actor",
    "Commit",
)


def history_rows(records: Iterable[AuditRecord]) -> Iterable[list[Any]]:
    """Every field of the audit log, before and after as JSON, for CSV."""

    def cell(record: AuditRecord, field: str) -> Any:
        value = getattr(record, field)
        if field in ("before", "after"):
            return None if value is None else json.dumps(value, sort_keys=True, default=str)
        return value  # csv_cell writes a time in ISO 8601

    return ([cell(r, f) for f in HISTORY_FIELDS] for r in records)


SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.ENABLE: "~",
    Action.DISABLE: "~",
    Action.DEREGISTER: "-",
}
SHOWN_ON_CREATE = ("namespace", "endpoint", "status", "managed_by")


def _change_text(change: Change) -> list[str]:
    label = "" if change.action in (Action.CREATE, Action.UPDATE) else f" ({change.action})"
    lines = [f"  {SYMBOLS[change.action]} {escape(change.model_name)}{label}"]
    if change.action == Action.CREATE:
        pairs = [(name, json.dumps(getattr(change.after, name))) for name in SHOWN_ON_CREATE]
    else:
        pairs = [(f.name, f"{json.dumps(f.old)} -> {json.dumps(f.new)}") for f in change.fields]
    if change.reason:
        pairs.append(("reason", escape(_with_health(change))))
    width = max((len(name) for name, _ in pairs), default=0)
    lines += [f"      {name.ljust(width)} = {value}" for name, value in pairs]
    return lines


def _with_health(change: Change) -> str:
    """The pending reason, after the health it comes from (Degraded: ...) when it is one."""
    health = change.after.health
    if health in (Health.HEALTHY, Health.UNKNOWN) or change.reason.startswith(
        f"deployment is {health}"
    ):
        return change.reason
    return f"{health}: {change.reason}"


def plan_summary(plan: Plan, number: Callable[[int], str] = str) -> str:
    """The counts of a plan, each written by ``number`` (Markdown makes them bold)."""
    s = plan.summary()
    return (
        f"{number(s['create'])} to create, {number(s['update'])} to update, "
        f"{number(s['enable'])} to enable, {number(s['disable'])} to disable, "
        f"{number(s['deregister'])} to deregister; {int(s['unchanged'])} unchanged."
    )


UNMANAGED_NOTE = "not in the manifest, left unchanged (spec.prune: true would deregister them)"


def mass_removal_banner(plan: Plan) -> list[str]:
    """The loud block a plan that removes most of an environment carries."""
    if not plan.mass_removal:
        return []
    rule = "!" * 78
    return [rule, f"!! MASS REMOVAL: {escape(plan.mass_removal)}", rule]


def plan_text(plan: Plan) -> str:
    """A plan in the style of ``terraform plan``.

    Warnings other than mass removal are left to the caller (they go to stderr).
    """
    head = f'Environment "{escape(plan.environment)}" (revision {plan.base_revision}):'
    lines = [head, ""]
    if plan.has_changes:
        for change in plan.changes:
            lines += _change_text(change)
        lines.append("")
    if plan.unmanaged:
        lines.append(
            f"  {len(plan.unmanaged)} entr{'y' if len(plan.unmanaged) == 1 else 'ies'} "
            f"{UNMANAGED_NOTE}:"
        )
        lines += [f"    ? {escape(name)}" for name in plan.unmanaged]
        lines.append("")
    if plan.mass_removal:
        lines += [*mass_removal_banner(plan), ""]
    if plan.has_changes:
        lines.append(f"Plan: {plan_summary(plan)}")
    else:
        lines.append(
            f"No changes. The registry matches the desired state ({int(plan.unchanged)} unchanged)."
        )
    return "\n".join(lines)


def plans_text(plans: Sequence[Plan]) -> str:
    return "\n\n".join(plan_text(plan) for plan in plans)


_MD_ACTIONS = {
    Action.CREATE: "➕ create",
    Action.UPDATE: "🔄 update",
    Action.ENABLE: "✅ enable",
    Action.DISABLE: "⏸️ disable",
    Action.DEREGISTER: "➖ deregister",
}


def _md_details(change: Change) -> str:
    # Values go in code spans and free text is escaped (safe_text): a stored value
    # cannot add a link, an image or HTML to the merge request comment.
    if change.action == Action.CREATE:
        pairs = [f"{name}: {md_code(getattr(change.after, name))}" for name in SHOWN_ON_CREATE]
    else:
        pairs = [f"{f.name}: {md_code(f.old)} → {md_code(f.new)}" for f in change.fields]
    if change.reason:
        pairs.append(f"reason: {md_text(change.reason)}")
    return "<br>".join(pairs)


def plan_markdown(plans: Sequence[Plan]) -> str:
    """A merge request comment: per environment a summary, the changes and the warnings."""
    parts = []
    for plan in plans:
        environment = md_code(plan.environment)
        lines = [f"### Registry plan: {environment} (revision {plan.base_revision})", ""]
        if plan.mass_removal:
            lines += [f"> [!CAUTION]\n> **Mass removal:** {md_text(plan.mass_removal)}", ""]
        lines += [f"> [!WARNING]\n> {md_text(w)}" for w in plan.warnings]
        if plan.warnings:
            lines.append("")
        if plan.has_changes:
            lines += [
                "| Action | Model | Changes |",
                "|---|---|---|",
                *(
                    f"| {_MD_ACTIONS[c.action]} | {md_code(c.model_name)} | {_md_details(c)} |"
                    for c in plan.changes
                ),
                "",
            ]
        else:
            lines += ["No changes. The registry matches the desired state.", ""]
        if plan.unmanaged:
            names = ", ".join(md_code(name) for name in plan.unmanaged)
            lines += [f"Unmanaged ({UNMANAGED_NOTE}): {names}", ""]
        lines.append(plan_summary(plan, lambda n: f"**{n}**"))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _json_value(value: Any) -> Any:
    # Times in ISO 8601, as Entry.to_dict and the CSV cells write them.
    return value.isoformat() if isinstance(value, datetime) else str(value)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=_json_value)
