"""Findings: what validation says about a manifest, each at a line and column of a file.

Every problem becomes a ``Finding`` (``FILE:LINE:COLUMN: severity: message``);
loading collects them all and never raises on bad input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..safe_text import escape, excerpt

Location = tuple[int, int]  # 1-based line and column


class Severity(StrEnum):
    """An error makes a manifest invalid; a warning is reported and the manifest used."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    column: int
    message: str
    severity: Severity = Severity.ERROR
    rule: str = "schema"

    def __str__(self) -> str:
        # Escaped: a file name or a quoted value may hold control characters.
        return escape(f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}")


class Findings:
    """The findings about one file, in the order they were found."""

    def __init__(self, path: str, lines: int) -> None:
        self.path = path
        self.lines = lines  # the file's line count
        self.found: list[Finding] = []

    def add(
        self, at: Location, message: str, rule: str, severity: Severity = Severity.ERROR
    ) -> None:
        # libyaml can place an end-of-input error on a line past the last one; an editor
        # needs a line that exists.
        line = min(at[0], self.lines)
        column = at[1] if line == at[0] else 1
        self.found.append(Finding(self.path, line, column, message, severity, rule))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == Severity.ERROR for f in findings)


def in_file_order(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.path, f.line, f.column)))


def bounded(message: str, value: Any) -> str:
    """``message`` with the repr of ``value`` in it cut to a short excerpt."""
    return message.replace(repr(value), excerpt(value))
