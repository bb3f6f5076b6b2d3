"""Errors of the registry. Each carries the one-paragraph message an operator sees."""


class RegistryError(Exception):
    """Base of every error caused by input or environment rather than a bug.

    ``str(error)`` is the user-facing message: what is wrong and what to do.
    """


class InvalidName(RegistryError):
    """A model name, environment or namespace breaks the naming rules."""


class InvalidEndpoint(RegistryError):
    """An endpoint is not ``host:port`` or points outside the cluster."""


class DatabaseUnavailable(RegistryError):
    """PostgreSQL could not be reached or refused the connection."""


class SchemaOutdated(RegistryError):
    """The database schema is behind this release and auto-migration is off."""


class ModelNotFound(RegistryError):
    def __init__(self, model_name: str) -> None:
        super().__init__(f"model not found in registry: {model_name}")
        self.model_name = model_name


class ModelNotReady(RegistryError):
    def __init__(self, model_name: str, status: str) -> None:
        super().__init__(f"model not ready: {model_name} (status: {status})")
        self.model_name = model_name
        self.status = status


class StaleRevision(RegistryError):
    """The environment changed since the plan was made."""


class LockTimeout(RegistryError):
    """Another apply holds the environment's lock for longer than we may wait."""


class InvalidSetting(RegistryError):
    """An environment variable or option holds a value the registry cannot use."""


class AuditChainBroken(RegistryError):
    """An audit row no longer matches the hash chain: the log was edited."""


class PermissionDenied(RegistryError):
    """The database user lacks a privilege the command needs (see the roles of 0002)."""
