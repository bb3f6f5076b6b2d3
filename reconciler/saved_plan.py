"""Saved plans: the file `plan --out` writes and `apply PLAN.json` applies exactly.

The file is the plan document (the JSON output of `plan`) plus a sha256 checksum
of its canonical JSON, so a plan edited after review is refused. Staleness (the
registry moved on since the plan was made) is checked at apply time under the
environment's lock by ``store.commit_changes``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from registry.errors import RegistryError

from . import files
from .plan import FORMAT_VERSION, Plan

CHECKSUM_KEY = "checksum"
# A plan of 10,000 changes is about 10 MB; a saved plan nests 6 levels deep.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32


class InvalidPlanFile(RegistryError):
    """The file is not a saved plan, or was altered after it was written."""


def document(plans: Sequence[Plan]) -> dict[str, Any]:
    """The JSON document of ``plans``: one plan as is, several as a plan set."""
    if len(plans) == 1:
        return plans[0].to_dict()
    return {"format_version": FORMAT_VERSION, "plans": [plan.to_dict() for plan in plans]}


def checksum(data: dict[str, Any]) -> str:
    body = {key: value for key, value in data.items() if key != CHECKSUM_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def dumps(plans: Sequence[Plan]) -> str:
    data = document(plans)
    return json.dumps({**data, CHECKSUM_KEY: checksum(data)}, indent=2, default=str) + "\n"


def write(path: str | Path, plans: Sequence[Plan]) -> None:
    files.write_text(path, dumps(plans), "plan")


def read(path: str | Path) -> list[Plan]:
    """The plans saved in ``path``; refuses anything that is not an unaltered saved plan."""
    try:
        text = files.read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except files.UnreadableFile as error:
        raise InvalidPlanFile(f"cannot read the saved plan {path}: {error.reason}") from None
    except UnicodeDecodeError:
        raise InvalidPlanFile(f"cannot read the saved plan {path}: not UTF-8 text") from None
    return loads(text, str(path))


_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """How deep the arrays and objects of the JSON ``text`` nest (counted before parsing).

    json.loads recurses per level: 100,000 nested brackets would end in a
    RecursionError instead of a message. Brackets inside strings do not
    count: with the escaped characters dropped, every other part between two
    quotes is a string.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    depth = deepest = 0
    for bracket in _BRACKETS.findall("".join(unescaped.split('"')[::2])):
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_DEPTH:
                break
    return deepest


def loads(text: str, name: str = "the saved plan") -> list[Plan]:
    not_a_plan = InvalidPlanFile(
        f"{name} is not a saved plan: expected the JSON file written by `registry plan --out FILE`"
    )
    if _nesting(text) > MAX_DEPTH:
        raise InvalidPlanFile(
            f"{name} nests deeper than {MAX_DEPTH} levels, so it is not a saved plan: expected "
            "the JSON file written by `registry plan --out FILE`"
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise not_a_plan from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise not_a_plan
    if data["format_version"] != FORMAT_VERSION:
        raise InvalidPlanFile(
            f"{name} has plan format version {data['format_version']!r}, this registry reads "
            f"version {FORMAT_VERSION!r}: run `registry plan --out` again with this version"
        )
    if CHECKSUM_KEY not in data:
        raise InvalidPlanFile(
            f"{name} has no checksum: only a plan saved with `registry plan --out FILE` can be "
            "applied (the JSON printed by --format json is for reading, not applying)"
        )
    if data[CHECKSUM_KEY] != checksum(data):
        raise InvalidPlanFile(
            f"{name} was altered after it was written (checksum mismatch): a saved plan is "
            "applied exactly as reviewed; run `registry plan --out FILE` again"
        )
    try:
        items = data.get("plans", [data])
        return [Plan.from_dict(item) for item in items]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise not_a_plan from None
