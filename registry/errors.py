"""Every error an operator can meet, in one place, each with its message and exit code.

``str(error)`` is the one-paragraph message: what is wrong and what to do. The CLI
prints it as ``error: ...`` and exits with ``exit_code``. Anything that is not a
``RegistryError`` is a bug (or a driver error the CLI maps, reconciler/cli/errors.py).

The bases group errors by where the trouble is: what the operator gave
(``InputError``), the database, the cache, the cluster, or a conflict with
another change or a safety guard.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .redact import redact_urls


class RegistryError(Exception):
    """Base of every error caused by input or environment rather than a bug."""

    exit_code: ClassVar[int] = 1


class Interrupted(RegistryError):
    """Ctrl-C (SIGINT): the shell's convention is 128 + the signal number."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__(
            "interrupted; what was not yet committed was rolled back (`registry history` "
            "shows what was applied)"
        )


# --- what the operator gave -------------------------------------------------------------------


class InputError(RegistryError):
    """A name, option, setting, file or text the registry cannot use as given."""


class InvalidName(InputError):
    """A model name, environment or namespace breaks the naming rules."""


class InvalidEndpoint(InputError):
    """An endpoint is not ``host:port`` or points outside the cluster."""


class InvalidSetting(InputError):
    """An environment variable or option holds a value the registry cannot use."""


class InvalidOption(InputError):
    """A controller flag has a value it cannot run with."""


class InvalidText(InputError):
    """Free text from argv or the environment that cannot be stored as it is."""


class InvalidPlanFile(InputError):
    """The file is not a saved plan, or was altered after it was written."""


class UnreadableFile(InputError):
    """A file that cannot or must not be read; ``reason`` says why, without the path."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.reason = reason


class ManifestInvalid(InputError):
    """Manifests had errors; the findings were reported separately."""

    def __init__(self, message: str, findings: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.findings = findings  # the manifest's Finding values (registry knows no manifests)


class ControllerError(InputError):
    """The controller cannot start with this configuration."""


class MetricsError(InputError):
    """The metrics server cannot listen where it was told to."""


class LeaderElectionError(InputError):
    """Leader election was configured in a way that cannot be safe."""


# --- the database ----------------------------------------------------------------------------


class DatabaseError(RegistryError):
    """PostgreSQL answered with an error the registry has no better words for.

    Also the base of the database errors that have them.
    """


class DatabaseUnavailable(DatabaseError):
    """PostgreSQL could not be reached, refused the connection, or went away."""


class SchemaOutdated(DatabaseError):
    """The database schema is behind this release and auto-migration is off."""


class PermissionDenied(DatabaseError):
    """The database user lacks a privilege the command needs (see the roles of 0002)."""


class AuditChainBroken(DatabaseError):
    """An audit row no longer matches the hash chain: the log was edited."""


# --- the router's lookup ---------------------------------------------------------------------


class ModelNotFound(RegistryError):
    def __init__(self, model_name: str) -> None:
        super().__init__(f"model not found in registry: {model_name}")
        self.model_name = model_name


class ModelNotReady(RegistryError):
    def __init__(self, model_name: str, status: str) -> None:
        super().__init__(f"model not ready: {model_name} (status: {status})")
        self.model_name = model_name
        self.status = status


# --- the cache -------------------------------------------------------------------------------


class CacheUnavailable(RegistryError):
    """Redis could not be reached or failed a command."""

    def __init__(self, description: str, reason: str) -> None:
        self.summary = f"Redis at {description} is unavailable ({reason})"
        super().__init__(
            f"{self.summary}: check REDIS_URL and that Redis is running; queued cache "
            "invalidations stay in the registry database until `registry cache sync` succeeds"
        )


# --- the cluster -----------------------------------------------------------------------------


class ClusterError(RegistryError):
    """A configured cluster is unreachable, too slow, or refused a read."""

    def __init__(self, message: str) -> None:
        # A kubeconfig's server may carry credentials (https://admin:PW@host, ?token=):
        # whatever quotes it here, the message never does.
        super().__init__(redact_urls(message))


class DeploymentUnhealthy(ClusterError):
    """The model's deployment is not serving, so it must not become routable."""


# --- conflicts with another change, or with a safety guard -----------------------------------


class ConflictError(RegistryError):
    """The registry is not in the state the command expects, or a guard stopped it."""


class StaleRevision(ConflictError):
    """The environment changed since the plan was made."""


class LockTimeout(ConflictError):
    """Another apply holds the environment's lock for longer than we may wait."""


class MassRemovalRefused(ConflictError):
    """A plan would take away most of an environment's ready entries, unconfirmed."""


class ApplyRefused(ConflictError):
    """`apply` will not go ahead without an explicit decision from the operator."""
