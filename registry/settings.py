"""Environment variables the registry reads as numbers or switches, validated in one place.

Only ASCII digits are accepted: ``int()`` alone would also take ``٣`` or ``1_000``,
and a value out of range would turn a feature off far from where it was set (a TTL
Redis refuses silently disables the cache).
"""

from __future__ import annotations

import os

from .errors import InvalidSetting


def env_text(name: str) -> str:
    """``name`` stripped ('' when unset); an error when it is not UTF-8 (Python keeps such
    bytes as lone surrogates, which fail far away, when the value is encoded)."""
    text = os.environ.get(name, "").strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # The value may be a secret: never shown.
        raise InvalidSetting(
            f"invalid {name}: it is not UTF-8 text; set it to UTF-8 text "
            "(percent-encode other bytes in a URL)"
        ) from None
    return text


def env_int(name: str, default: int, *, minimum: int, maximum: int, unit: str = "") -> int:
    """``name`` as a whole number in [minimum, maximum]; ``default`` when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if text.isascii() and text.isdigit() and len(text) <= len(str(maximum)):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    shown = f"{text[:40]!r}{'...' if len(text) > 40 else ''}"  # repr: no control characters
    of_unit = f" of {unit}" if unit else ""
    raise InvalidSetting(
        f"invalid {name} {shown}: use a whole number{of_unit} from {minimum} to {maximum} "
        f"written in ASCII digits (default {default}), or unset it"
    )


def env_switch(name: str) -> bool | None:
    """``1`` True, ``0`` False, unset or empty None; anything else is an error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if text not in ("0", "1"):
        raise InvalidSetting(f"invalid {name} {text[:40]!r}: use 1 (on) or 0 (off), or unset it")
    return text == "1"
