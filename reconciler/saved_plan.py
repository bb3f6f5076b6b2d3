"""Saved plans: the file `plan --out` writes and `apply PLAN.json` applies exactly.

The file is the plan document (the JSON output of `plan`) plus a sha256 checksum
of its canonical JSON and, when REGISTRY_PLAN_KEY is set, an HMAC-SHA256
signature of it. The checksum catches accidents only (whoever edits the file
can recompute it); the signature needs the key. Either way the file is not
trusted: every change is validated again by the rules of a manifest and the
CLI, and at apply time (under the environment's lock, ``apply.apply_plans``)
against the stored rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from registry import names
from registry.entry import Entry
from registry.errors import InvalidPlanFile, RegistryError, UnreadableFile
from registry.vocabulary import Action, Health, Manager, Status, Vocabulary

from . import files
from .plan import FORMAT_VERSION, Change, Plan, change_for

CHECKSUM_KEY = "checksum"
SIGNATURE_KEY = "signature"
PLAN_KEY_VARIABLE = "REGISTRY_PLAN_KEY"
PLAN_ID = re.compile(r"[0-9a-f]{32}", re.ASCII)  # uuid4().hex, as Plan makes it
_AGAIN = "nothing was written; run `registry plan --out FILE` again"
# A plan of 10,000 changes is about 10 MB; a saved plan nests 6 levels deep.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_TEXT = 4096  # one warning or unmanaged model name
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of this host a plan's clock may be


def document(plans: Sequence[Plan]) -> dict[str, Any]:
    """The JSON document of ``plans``: one plan as is, several as a plan set."""
    if len(plans) == 1:
        return plans[0].to_dict()
    return {"format_version": FORMAT_VERSION, "plans": [plan.to_dict() for plan in plans]}


def _canonical(data: dict[str, Any]) -> bytes:
    body = {key: value for key, value in data.items() if key not in (CHECKSUM_KEY, SIGNATURE_KEY)}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(data: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(data)).hexdigest()


def signature(data: dict[str, Any], key: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()


def dumps(plans: Sequence[Plan], *, key: bytes | None) -> str:
    """The saved plan file of ``plans``, signed with ``key`` (REGISTRY_PLAN_KEY) when given
    (otherwise only checksummed)."""
    data = document(plans)
    sealed = {**data, CHECKSUM_KEY: checksum(data)}
    if key:
        sealed[SIGNATURE_KEY] = signature(data, key)
    return json.dumps(sealed, indent=2, default=str) + "\n"


def write(path: str | Path, plans: Sequence[Plan], *, key: bytes | None) -> None:
    files.write_text(path, dumps(plans, key=key), "plan")


def read(path: str | Path, *, key: bytes | None) -> list[Plan]:
    """The plans saved in ``path``; refuses anything that is not an unaltered saved plan
    (nor, with ``key``, one not signed with it)."""
    try:
        text = files.read_bounded(path, MAX_FILE_BYTES).decode("utf-8")
    except UnreadableFile as error:
        raise InvalidPlanFile(f"cannot read the saved plan {path}: {error.reason}") from None
    except UnicodeDecodeError:
        raise InvalidPlanFile(f"cannot read the saved plan {path}: not UTF-8 text") from None
    return loads(text, str(path), key=key)


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


def loads(text: str, name: str = "the saved plan", *, key: bytes | None) -> list[Plan]:
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
    if not isinstance(data[CHECKSUM_KEY], str) or not hmac.compare_digest(
        data[CHECKSUM_KEY], checksum(data)
    ):
        raise InvalidPlanFile(
            f"{name} was altered after it was written (checksum mismatch): a saved plan is "
            "applied exactly as reviewed; run `registry plan --out FILE` again"
        )
    _check_signature(data, name, key)
    try:
        items = data.get("plans", [data])
        plans = [Plan.from_dict(item) for item in items]
        for item, plan in zip(items, plans, strict=True):
            _check_plan(item, plan, name)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise not_a_plan from None
    if len({plan.environment for plan in plans}) != len(plans):
        raise InvalidPlanFile(f"{name} has two plans for the same environment: {_AGAIN}")
    return plans


def _check_signature(data: dict[str, Any], name: str, key: bytes | None) -> None:
    if key is None:
        return  # the caller says that the plan's origin is not verified
    given = data.get(SIGNATURE_KEY)
    if not isinstance(given, str):
        raise InvalidPlanFile(
            f"{name} is not signed, and {PLAN_KEY_VARIABLE} is set, so only a plan signed "
            f"with that key is applied: {_AGAIN} with {PLAN_KEY_VARIABLE} set"
        )
    if not hmac.compare_digest(given, signature(data, key)):
        raise InvalidPlanFile(
            f"{name} has a signature that does not match {PLAN_KEY_VARIABLE}: it was altered "
            f"after it was signed, or signed with another key; {_AGAIN} with this key"
        )


def _check_plan(item: dict[str, Any], plan: Plan, name: str) -> None:
    """Validate a plan read from a file as a manifest and the CLI would be validated."""
    try:
        names.check_environment(plan.environment)
    except RegistryError as error:
        raise InvalidPlanFile(f"{name} is not a valid plan: {error}; {_AGAIN}") from None
    if not isinstance(plan.plan_id, str) or not PLAN_ID.fullmatch(plan.plan_id):
        raise InvalidPlanFile(
            f"{name} is not a valid plan: plan_id {plan.plan_id!r} is not a plan id; {_AGAIN}"
        )
    if type(plan.base_revision) is not int or plan.base_revision < 0:
        raise InvalidPlanFile(
            f"{name} is not a valid plan: revision {plan.base_revision!r} is not a "
            f"non-negative integer; {_AGAIN}"
        )
    observed: dict[str, str] = {}
    for observation in plan.observations:
        try:
            names.check_model_name(observation.model_name)
            _one_of("health", observation.health, Health)
            _check_time("checked_at", observation.checked_at)
        except RegistryError as error:
            raise InvalidPlanFile(
                f"{name} is not a valid plan: an observation of environment "
                f"{plan.environment!r}: {error}; {_AGAIN}"
            ) from None
        observed[observation.model_name] = observation.health
    seen: set[str] = set()
    pairs = zip(item["changes"], plan.changes, strict=True)
    for number, (raw, change) in enumerate(pairs, start=1):
        try:
            if raw.get("model_name") != change.model_name:
                raise RegistryError(
                    f"model_name {raw.get('model_name')!r} is not the model the change is "
                    f"about ({change.model_name!r})"
                )
            _check_change(plan.environment, change, seen)
            _check_bookkeeping(change, observed.get(change.model_name))
        except RegistryError as error:
            raise InvalidPlanFile(
                f"{name} is not a valid plan: change {number} of environment "
                f"{plan.environment!r}: {error}; {_AGAIN}"
            ) from None
    _check_document(item, plan, name)  # last: the summary counts valid actions


def _check_document(item: dict[str, Any], plan: Plan, name: str) -> None:
    """The parts a reviewer reads beside the changes: none may say what the changes do not."""
    try:
        _check_time("created_at", datetime.fromisoformat(plan.created_at))
        summary = item["summary"]
        if type(plan.unchanged) is not int or plan.unchanged < 0:
            raise RegistryError(f"unchanged {plan.unchanged!r} is not a non-negative integer")
        if not isinstance(summary, dict) or any(type(v) is not int for v in summary.values()):
            raise RegistryError("its summary counts are not integers")
        if summary != plan.summary():
            raise RegistryError("its summary does not count its changes")
        if plan.mass_removal is not None and not isinstance(plan.mass_removal, str):
            raise RegistryError("mass_removal is neither null nor text")
        for key in ("unmanaged", "warnings"):
            texts = item.get(key, [])
            if not isinstance(texts, list) or not all(
                isinstance(text, str) and len(text) <= MAX_TEXT for text in texts
            ):
                raise RegistryError(
                    f"{key} is not a list of texts of at most {MAX_TEXT} characters"
                )
    except (RegistryError, TypeError, ValueError) as error:
        reason = error if isinstance(error, RegistryError) else "created_at is not an ISO time"
        raise InvalidPlanFile(
            f"{name} is not a valid plan: in environment {plan.environment!r}, {reason}; {_AGAIN}"
        ) from None


def _check_time(what: str, value: datetime | None) -> None:
    """A time from the file must be aware and not in the future: the newer-only rule of
    recorded health would keep a far-future observation forever."""
    if value is None:
        return
    if value.tzinfo is None:
        raise RegistryError(f"{what} {value.isoformat()!r} has no time zone")
    if value > datetime.now(UTC) + CLOCK_SKEW:
        raise RegistryError(f"{what} {value.isoformat()!r} is in the future")


def _check_bookkeeping(change: Change, observed: str | None) -> None:
    """Health and its time are written from the plan: only what the plan saw may change."""
    before = change.before
    health = before.health if before else Health.UNKNOWN
    checked = before.last_health_check if before else None
    for entry in (before, change.after):
        if entry is not None:
            for what in ("last_health_check", "created_at", "updated_at", "deregistered_at"):
                _check_time(what, getattr(entry, what))
    if change.after.health not in (health, observed):
        raise RegistryError(
            f"after has health {change.after.health!r}, which neither before nor an "
            "observation of the plan has"
        )
    if change.after.last_health_check != checked:
        raise RegistryError("after has a last_health_check that before does not have")


def _check_change(environment: str, change: Change, seen: set[str]) -> None:
    _one_of("action", change.action, Action)
    for entry in (change.before, change.after):
        if entry is not None:
            _check_entry(environment, entry)
    model = change.after.model_name
    if change.before is not None and change.before.model_name != model:
        raise RegistryError(
            f"before and after name different models ({change.before.model_name!r}, {model!r})"
        )
    if model in seen:
        raise RegistryError(f"model {model!r} is changed twice")
    seen.add(model)
    expected = change_for(change.before, change.after)
    if expected is None or (expected.action, expected.fields) != (change.action, change.fields):
        raise RegistryError(
            f"action {change.action!r} and its fields do not describe the change of {model!r} "
            f"from before to after ({expected.action if expected else 'no change'!r} does)"
        )


def _check_entry(environment: str, entry: Entry) -> None:
    if entry.environment != environment:
        raise RegistryError(
            f"an entry of environment {entry.environment!r} in the plan of environment "
            f"{environment!r} (a plan changes only its own environment)"
        )
    names.check_target(entry.model_name, environment, entry.namespace)
    names.parse_endpoint(entry.endpoint)
    _one_of("status", entry.status, Status)
    _one_of("health", entry.health, Health)
    _one_of("managed_by", entry.managed_by, Manager)
    if type(entry.deregistered) is not bool:
        raise RegistryError(f"deregistered is {entry.deregistered!r}, not true or false")


def _one_of(what: str, value: Any, allowed: type[Vocabulary]) -> None:
    if not isinstance(value, str) or not allowed.has(value):
        raise RegistryError(
            f"unknown {what} {value!r}: expected one of {', '.join(allowed.values())}"
        )
