"""Numeric settings from environment variables, checked before anything uses them."""

from __future__ import annotations

import os

from .errors import RegistryError


def integer_from_env(name: str, default: int, minimum: int, maximum: int, unit: str) -> int:
    """``name`` as a decimal ASCII integer in [minimum, maximum]; ``default`` when unset.

    str.isdigit alone accepts other scripts' digits (``٣`` reads as 3), and an
    unbounded value turns a feature off silently (a TTL Redis refuses), so both
    are errors here.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if text.isascii() and text.isdigit() and len(text) <= len(str(maximum)):
        value = int(text)
        if minimum <= value <= maximum:
            return value
    shown = f"{text[:40]!r}{'...' if len(text) > 40 else ''}"  # repr: no control characters
    raise RegistryError(
        f"invalid {name} {shown}: use a whole number of {unit} from {minimum} to {maximum} "
        f"written in ASCII digits (default {default}), or unset it"
    )
