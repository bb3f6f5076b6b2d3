"""Every environment variable the registry and its CLI read, read and validated once.

``Settings.from_env()`` is the only place that reads the environment; library code
takes the values it needs (``db.resolve_target(settings)``, ``Cache.from_settings``,
``Resolver.from_settings``). An invalid value is an ``InvalidSetting`` naming the
variable and what to do, before anything else runs.

Only ASCII digits are accepted for numbers: ``int()`` alone would also take ``٣`` or
``1_000``, and a value out of range would turn a feature off far from where it was
set (a TTL Redis refuses silently disables the cache).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidSetting
from .names import shown

DEFAULT_CACHE_TTL = 120
MAX_CACHE_TTL = 86_400
DEFAULT_LOCAL_CACHE_SIZE = 100_000
MAX_LOCAL_CACHE_SIZE = 10_000_000
# libpq fills a connection string's gaps from these; any of the first seven set means a
# real server was meant, so the throwaway embedded one is never started in its place.
LIBPQ_SERVER_VARIABLES = (
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
)
LIBPQ_VARIABLES = (*LIBPQ_SERVER_VARIABLES, "PGCONNECT_TIMEOUT")


@dataclass(frozen=True)
class Settings:
    """The environment of one process, validated. Secrets stay out of ``repr``."""

    database_url: str = field(default="", repr=False)  # may hold a password
    embedded: bool | None = None  # REGISTRY_EMBEDDED: 1 asks for it, 0 forbids it
    prepared_statements: bool = False
    auto_migrate: bool = True
    home: Path | None = None  # REGISTRY_HOME: the embedded server's state folder
    # The libpq variables that are set (PGPASSWORD among them, hence no repr).
    libpq: Mapping[str, str] = field(default_factory=dict, repr=False)
    ci: bool = False
    redis_url: str = field(default="", repr=False)
    cache_ttl: int = DEFAULT_CACHE_TTL
    local_cache_size: int = DEFAULT_LOCAL_CACHE_SIZE
    plan_key: bytes | None = field(default=None, repr=False)  # REGISTRY_PLAN_KEY
    # KUBECONFIG, os.pathsep-separated paths (or, by mistake, a kubeconfig's text)
    kubeconfig: str | None = field(default=None, repr=False)
    kubernetes_service_host: str | None = None  # set inside a pod
    vllm_api_key: str | None = field(default=None, repr=False)
    listen_url: str | None = field(default=None, repr=False)  # REGISTRY_LISTEN_URL
    environments: tuple[str, ...] = ()  # REGISTRY_ENVIRONMENTS, comma-separated
    gitlab_user_login: str | None = None
    ci_commit_sha: str | None = None
    ci_pipeline_url: str | None = None
    no_color: bool = False  # NO_COLOR set to anything but '' (no-color.org)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        env = _Reader(environ)
        home = env.text("REGISTRY_HOME")
        plan_key = env.text("REGISTRY_PLAN_KEY")
        return cls(
            database_url=env.text("DATABASE_URL"),
            embedded=env.switch("REGISTRY_EMBEDDED"),
            prepared_statements=env.switch("REGISTRY_PREPARED_STATEMENTS") is True,
            auto_migrate=env.switch("REGISTRY_AUTO_MIGRATE") is not False,
            home=Path(home).expanduser() if home else None,
            libpq={name: value for name in LIBPQ_VARIABLES if (value := env.text(name))},
            ci=env.text("CI").lower() not in ("", "0", "false"),
            redis_url=env.text("REDIS_URL"),
            cache_ttl=env.integer(
                "REGISTRY_CACHE_TTL", DEFAULT_CACHE_TTL, 1, MAX_CACHE_TTL, "seconds"
            ),
            local_cache_size=env.integer(
                "REGISTRY_LOCAL_CACHE_SIZE",
                DEFAULT_LOCAL_CACHE_SIZE,
                0,
                MAX_LOCAL_CACHE_SIZE,
                "cache entries",
            ),
            plan_key=plan_key.encode("utf-8") if plan_key else None,
            kubeconfig=env.text("KUBECONFIG") or None,
            kubernetes_service_host=env.text("KUBERNETES_SERVICE_HOST") or None,
            vllm_api_key=env.text("VLLM_API_KEY") or None,
            listen_url=env.text("REGISTRY_LISTEN_URL") or None,
            environments=tuple(
                name.strip()
                for name in env.text("REGISTRY_ENVIRONMENTS").split(",")
                if name.strip()
            ),
            # Checked as audit fields where they are recorded (reconciler.audit_fields).
            gitlab_user_login=env.raw("GITLAB_USER_LOGIN"),
            ci_commit_sha=env.raw("CI_COMMIT_SHA"),
            ci_pipeline_url=env.raw("CI_PIPELINE_URL"),
            no_color=bool(environ.get("NO_COLOR")),
        )


class _Reader:
    """Typed reads of one environment mapping, each with the message of its mistake."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def raw(self, name: str) -> str | None:
        """The value as set (None when unset or empty); its checks belong to its user."""
        return self.environ.get(name) or None

    def text(self, name: str) -> str:
        """``name`` stripped ('' when unset); an error when it is not UTF-8 (Python keeps
        such bytes as lone surrogates, which fail far away, when the value is encoded)."""
        text = self.environ.get(name, "").strip()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # The value may be a secret: never shown.
            raise InvalidSetting(
                f"invalid {name}: it is not UTF-8 text; set it to UTF-8 text "
                "(percent-encode other bytes in a URL)"
            ) from None
        return text

    def integer(self, name: str, default: int, minimum: int, maximum: int, unit: str) -> int:
        """``name`` as a whole number in [minimum, maximum]; ``default`` when unset or empty."""
        text = self.environ.get(name, "").strip()
        if not text:
            return default
        if text.isascii() and text.isdigit() and len(text) <= len(str(maximum)):
            value = int(text)
            if minimum <= value <= maximum:
                return value
        raise InvalidSetting(
            f"invalid {name} {shown(text)}: use a whole number of {unit} from {minimum} to "
            f"{maximum} written in ASCII digits (default {default}), or unset it"
        )

    def switch(self, name: str) -> bool | None:
        """``1`` True, ``0`` False, unset or empty None; anything else is an error."""
        text = self.environ.get(name, "").strip()
        if not text:
            return None
        if text not in ("0", "1"):
            raise InvalidSetting(
                f"invalid {name} {shown(text)}: use 1 (on) or 0 (off), or unset it"
            )
        return text == "1"
