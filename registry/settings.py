"""Environment variables the registry reads as numbers or switches, validated in one place.

Only ASCII digits are accepted: ``int()`` alone would also take ``٣`` or ``1_000``,
and a value out of range would turn a feature off far from where it was set.
"""

from __future__ import annotations

import os

from .errors import InvalidSetting


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """``name`` as a whole number in [minimum, maximum]; ``default`` when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not minimum <= int(text) <= maximum:
        raise InvalidSetting(
            f"invalid {name} {text!r}: use a whole number from {minimum} to {maximum} "
            f"(default {default}), or unset it"
        )
    return int(text)


def env_switch(name: str) -> bool | None:
    """``1`` True, ``0`` False, unset or empty None; anything else is an error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if text not in ("0", "1"):
        raise InvalidSetting(f"invalid {name} {text!r}: use 1 (on) or 0 (off), or unset it")
    return text == "1"
