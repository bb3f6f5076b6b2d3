"""How each result is shown, per output format: the one place that decides.

A command hands ``render`` a result value and the format the operator chose
with ``--format/-o``. Each kind of result has one ``View``: the formats it
supports (which are the choices of its command's ``--format``) and how each is
written. ``text`` and ``table`` are for people, ``json`` for machines, ``csv``
for tables, ``markdown`` for merge request comments. The stream rule is the
CLI's: what ``render`` returns is the result (stdout); findings, notices,
progress and errors go to stderr.

Pure: values in, text out. The text of ``reconciler.render`` is reused here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from . import render

if TYPE_CHECKING:
    from registry.cache import Route
    from registry.entry import Entry
    from registry.store import AuditRecord, ChainCheck

    from .apply import ApplyResult
    from .health import Health
    from .liveness import Check
    from .manifest import LoadResult
    from .plan import Plan

T = TypeVar("T")


class Format(enum.StrEnum):
    """The values of ``--format/-o``, the same wherever they apply."""

    text = "text"  # for people: the default of commands whose result is not a table
    table = "table"  # for people: columns (list, history, health, the workflow's commands)
    json = "json"  # for machines: every command that prints a result
    csv = "csv"  # for spreadsheets: tables
    markdown = "markdown"  # for merge request comments: plans


# The values here are NamedTuples, not frozen dataclasses: a dataclass costs ~1.5 ms of
# code generation at import, and this module is imported on every start of the CLI.


class Table(NamedTuple):
    """Rows under column names, with an optional line above them."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    head: str | None = None  # e.g. "Found 3 model deployment(s)"
    empty: str | None = None  # said instead of the columns when there is no row

    def text(self, *, headers: bool = True) -> str:
        if not headers:
            return render.table(self.columns, self.rows, show_headers=False) if self.rows else ""
        parts = [self.head] if self.head else []
        if self.rows:
            parts.append(render.table(self.columns, self.rows))
        elif self.empty:
            parts.append(self.empty)
        return "\n\n".join(parts)


class View(NamedTuple, Generic[T]):
    """How one kind of result is written in each format it supports.

    ``json`` returns data (serialized here), ``csv`` the field names and rows,
    ``table`` a ``Table`` (or text for the workflow's commands that print a plan
    under ``table``). ``paint`` colours the text and table output on a terminal.
    """

    text: Callable[[T], str] | None = None
    table: Callable[[T], Table | str] | None = None
    json: Callable[[T], Any] | None = None
    csv: Callable[[T], tuple[Sequence[str], Iterable[Sequence[Any]]]] | None = None
    markdown: Callable[[T], str] | None = None
    paint: Callable[[str], str] | None = None

    @property
    def formats(self) -> tuple[Format, ...]:
        return tuple(Format(name) for name in Format if getattr(self, name))

    def render(self, value: T, output: Format, *, headers: bool = True) -> str:
        """``value`` in ``output``; ``headers`` False drops table and CSV headers."""
        renderer = getattr(self, Format(output).value)
        if renderer is None:  # the CLI offers only self.formats: a caller's bug
            raise ValueError(f"no {output} view; use one of {', '.join(self.formats)}")
        if output is Format.json:
            return render.to_json(renderer(value))
        if output is Format.csv:
            columns, rows = renderer(value)
            return render.csv_rows(columns, rows, show_headers=headers)
        if output is Format.table:
            shown = renderer(value)
            return shown.text(headers=headers) if isinstance(shown, Table) else shown
        return renderer(value)

    def colored(self, output: Format) -> Callable[[str], str] | None:
        """How to colour ``output`` on a terminal (None: it is not coloured)."""
        return self.paint if output in (Format.text, Format.table) else None


# --- colour ------------------------------------------------------------------------------

_COLORS = {"+": "32", "~": "33", "-": "31"}  # green, yellow, red, as terraform plan
_CHANGE_LINE = re.compile(r"^(\s+)([+~-]) ", re.MULTILINE)
_PREFIX = re.compile(r"^(error|warning):")
_PREFIX_COLORS = {"error": "1;31", "warning": "1;33"}


def _ansi(code: str, text: str) -> str:
    return f"\x1b[{code}m{text}\x1b[0m"


def paint_changes(text: str) -> str:
    """Colour the ``+ ~ -`` marks of plan lines (applied after escaping: safe codes only)."""
    return _CHANGE_LINE.sub(lambda m: m[1] + _ansi(_COLORS[m[2]], m[2]) + " ", text)


def paint_message(text: str) -> str:
    """Colour a message's ``error:`` or ``warning:`` prefix."""
    return _PREFIX.sub(lambda m: _ansi(_PREFIX_COLORS[m[1]], m[0]), text)


# --- results without a value type of their own ---------------------------------------------


class Applied(NamedTuple):
    """What `apply` did: the plans it showed and, per environment, what it wrote."""

    plans: Sequence[Plan]
    results: Sequence[ApplyResult]


class Written(NamedTuple):
    """What an imperative command (register, enable, ...) planned and wrote."""

    plan: Plan
    result: ApplyResult | None  # None: nothing written (dry run, or no change)
    dry_run: bool


class Resolved(NamedTuple):
    route: Route
    source: str  # the tier that answered: memory, redis or database


class ModelHealth(NamedTuple):
    entry: Entry
    deployment: str
    health: Health


class Exported(NamedTuple):
    environment: str
    manifest: str  # YAML text


class Message(NamedTuple):
    """A one-line result (cache sync, invalidate, db migrate) and its fields for JSON."""

    text: str
    data: Mapping[str, Any]


class VersionInfo(NamedTuple):
    version: str
    python: str
    libraries: Mapping[str, str | None]  # None: not installed


# --- the views -----------------------------------------------------------------------------


def _finding(finding: Any) -> dict[str, Any]:
    return {
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "severity": str(finding.severity),
        "rule": finding.rule,
        "message": finding.message,
    }


def _validation_text(result: LoadResult) -> str:
    counts = f"{len(result.errors)} error(s), {len(result.warnings)} warning(s)"
    if result.ok:
        return f"{len(result.files)} manifest file(s) valid ({counts})."
    return f"{len(result.files)} manifest file(s) checked: invalid, {counts}."


VALIDATION: View[LoadResult] = View(
    text=_validation_text,
    json=lambda r: {
        "valid": r.ok,
        "files": list(r.files),
        "errors": len(r.errors),
        "warnings": len(r.warnings),
        "findings": [_finding(f) for f in r.findings],
    },
)


def _plans_json(plans: Sequence[Plan]) -> Any:
    from .saved_plan import document

    return document(plans)


PLANS: View[Sequence[Plan]] = View(
    text=render.plans_text,
    json=_plans_json,
    markdown=render.plan_markdown,
    paint=paint_changes,
)


def _applied_json(applied: Applied) -> dict[str, Any]:
    return {
        "applied": any(r.applied for r in applied.results),
        "plan": _plans_json(applied.plans),
        "results": [
            {
                "environment": r.plan.environment,
                "applied": r.applied,
                "revision": r.revision,
                "invalidated": r.invalidated,
                "pending_invalidations": r.pending_invalidations,
                "cache_error": r.cache_error,
            }
            for r in applied.results
        ],
    }


APPLIED: View[Applied] = View(
    text=lambda applied: render.plans_text(applied.plans), json=_applied_json, paint=paint_changes
)


def _written_json(written: Written) -> dict[str, Any]:
    result = written.result
    return {
        **written.plan.to_dict(),
        "applied": result is not None,
        "dry_run": written.dry_run,
        "new_revision": result.revision if result else written.plan.base_revision,
    }


WRITTEN: View[Written] = View(
    # The workflow's `--format table` of register/enable/...: the plan, when it changes.
    table=lambda w: render.plan_text(w.plan) if w.plan.has_changes else "",
    json=_written_json,
    csv=lambda w: (render.ENTRY_FIELDS, render.entry_rows([c.after for c in w.plan.changes])),
    paint=paint_changes,
)


def _entries_table(entries: Sequence[Entry]) -> Table:
    rows = [
        (
            e.id,
            e.model_name,
            e.endpoint,
            e.status,
            e.environment,
            e.namespace,
            render.minute(e.last_health_check),
            render.minute(e.updated_at),
        )
        for e in entries
    ]
    return Table(render.LIST_COLUMNS, rows, head=f"Found {len(entries)} model deployment(s)")


ENTRIES: View[Sequence[Entry]] = View(
    table=_entries_table,
    json=lambda entries: [e.to_dict() for e in entries],
    csv=lambda entries: (render.ENTRY_FIELDS, render.entry_rows(entries)),
)


def _history_table(records: Sequence[AuditRecord]) -> Table:
    rows = [
        (
            r.id,
            r.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.environment,
            r.revision,
            r.action,
            r.model_name,
            r.actor,
            (r.commit_sha or "")[:12],
        )
        for r in records
    ]
    return Table(render.HISTORY_COLUMNS, rows, empty="No history.")


HISTORY: View[Sequence[AuditRecord]] = View(
    table=_history_table,
    json=lambda records: [vars(r) for r in records],
    csv=lambda records: (render.HISTORY_FIELDS, render.history_rows(records)),
)


def _chain_text(checked: ChainCheck) -> str:
    lines = [f"{checked.records} audit records verified."]
    lines += [
        f"head of {h.environment}: record {h.last_id}, revision {h.revision}, "
        f"--expect-head {h.environment}={h.chain_hash}"
        for h in checked.heads
    ]
    return "\n".join(lines)


CHAIN: View[ChainCheck] = View(
    table=_chain_text,
    json=lambda checked: {
        "records": checked.records,
        "heads": [vars(head) for head in checked.heads],
    },
)


RESOLVED: View[Resolved] = View(
    text=lambda resolved: resolved.route.endpoint,
    json=lambda resolved: {**resolved.route.to_dict(), "source": resolved.source},
)


def replicas_text(health: Health) -> str:
    return f"{health.ready_replicas or 0}/{health.replicas or 0} replicas ready"


def _model_health_line(seen: ModelHealth) -> str:
    detail = seen.health.reason if seen.health.reason else replicas_text(seen.health)
    return f"{seen.deployment} (namespace {seen.entry.namespace}): {seen.health.status}, {detail}"


def _records(
    fields: Sequence[str], values: Callable[[Any], Sequence[Any]]
) -> tuple[Callable[[Any], list[dict[str, Any]]], Callable[[Any], tuple[Sequence[str], Any]]]:
    """The JSON and CSV of a list of records: the same field names and values in both."""

    def as_json(items: Iterable[Any]) -> list[dict[str, Any]]:
        return [dict(zip(fields, values(item), strict=True)) for item in items]

    def as_csv(items: Iterable[Any]) -> tuple[Sequence[str], Any]:
        return fields, (values(item) for item in items)

    return as_json, as_csv


_health_json, _health_csv = _records(
    (
        "model_name",
        "environment",
        "namespace",
        "endpoint",
        "deployment",
        "health",
        "reason",
        "ready_replicas",
        "replicas",
        "checked_at",
    ),
    lambda seen: (
        seen.entry.model_name,
        seen.entry.environment,
        seen.entry.namespace,
        seen.entry.endpoint,
        seen.deployment,
        seen.health.status,
        seen.health.reason,
        seen.health.ready_replicas,
        seen.health.replicas,
        seen.health.checked_at,
    ),
)

MODEL_HEALTH: View[ModelHealth] = View(
    table=_model_health_line,
    json=lambda seen: _health_json([seen])[0],
    csv=lambda seen: _health_csv([seen]),
)


def _checks_table(checks: Sequence[Check]) -> Table:
    rows = [
        (
            c.entry.model_name,
            c.entry.status,
            c.health,
            c.probe or "-",
            "yes" if c.agrees else f"NO (should be {c.expected})",
            c.reason or "",
        )
        for c in checks
    ]
    disagree = sum(not c.agrees for c in checks)
    head = f"{len(checks)} entr{'y' if len(checks) == 1 else 'ies'}, {disagree} disagree"
    columns = ("Model Name", "Status", "Health", "Probe", "Agrees", "Reason")
    return Table(columns, rows, head=head)


_checks_json, _checks_csv = _records(
    ("model_name", "status", "health", "probe", "expected_status", "agrees", "reason"),
    lambda c: (
        c.entry.model_name,
        c.entry.status,
        c.health,
        c.probe,
        c.expected,
        c.agrees,
        c.reason,
    ),
)

CHECKS: View[Sequence[Check]] = View(table=_checks_table, json=_checks_json, csv=_checks_csv)


def _exported_json(exported: Exported) -> Any:
    import yaml

    return yaml.safe_load(exported.manifest)


EXPORTED: View[Exported] = View(text=lambda e: e.manifest.rstrip("\n"), json=_exported_json)

MESSAGE: View[Message] = View(text=lambda m: m.text, json=lambda m: dict(m.data))

VERSION: View[VersionInfo] = View(
    text=lambda v: f"registry {v.version} (Python {v.python})",
    json=lambda v: {"version": v.version, "python": v.python, "libraries": dict(v.libraries)},
)
