"""The words of the registry: entry status, Kubernetes health, who manages an entry, and
the actions of plans and the audit log.

Each is a ``StrEnum``: a member *is* its value (``Status.READY == "ready"``), so the
database, JSON documents, saved plans, the cache value and text output hold exactly
the strings they held before these names existed, and rows read back as plain strings
compare equal to the members. The values are contracts (docs/architecture.md, "Contracts"; the
migrations' CHECK constraints, schemas/): never change one.
"""

from __future__ import annotations

from enum import StrEnum


class Vocabulary(StrEnum):
    """A closed set of words, each a string."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every value, in declaration order (for messages and choices)."""
        return tuple(member.value for member in cls)

    @classmethod
    def has(cls, value: object) -> bool:
        """Whether ``value`` is one of the words (``value in cls`` raises for a non-member
        before Python 3.12)."""
        return value in cls._value2member_map_


class Status(Vocabulary):
    """Whether the router may send traffic to an entry."""

    READY = "ready"
    PENDING = "pending"  # enabled, but its deployment is not serving (yet)
    DISABLED = "disabled"


class Health(Vocabulary):
    """A deployment's last observed Kubernetes health (kubectl rollout status, Argo CD)."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"  # progress deadline exceeded
    SUSPENDED = "Suspended"  # paused, or scaled to 0
    MISSING = "Missing"
    UNKNOWN = "Unknown"  # not observed (--no-kube, no cluster configured)


class Manager(Vocabulary):
    """What wrote an entry last: a manifest (apply) or an imperative command."""

    MANIFEST = "manifest"
    CLI = "cli"


class Action(Vocabulary):
    """What a plan's change does to an entry; the audit log records the same word."""

    CREATE = "create"
    UPDATE = "update"
    ENABLE = "enable"
    DISABLE = "disable"
    DEREGISTER = "deregister"
