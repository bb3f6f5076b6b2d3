"""What an audit row records about its origin, checked: free text from argv and CI.

``--actor``, ``GITLAB_USER_LOGIN``, the OS user, ``CI_COMMIT_SHA`` and
``CI_PIPELINE_URL`` are stored and later printed by `registry history`, so
each must be printable text of a bounded length (a non-UTF-8 value is an
error here, not a UnicodeEncodeError in the database driver).
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from registry.errors import InvalidText

from .safe_text import excerpt, printable

if TYPE_CHECKING:
    from registry.settings import Settings

MAX_ACTOR = 128
MAX_URL = 2048
_COMMIT_SHA = re.compile("[0-9a-fA-F]{4,64}")


@dataclass(frozen=True)
class CiJob:
    """What GitLab CI says about the job making a change; none of it outside CI."""

    user_login: str | None = None  # GITLAB_USER_LOGIN
    commit_sha: str | None = None  # CI_COMMIT_SHA
    pipeline_url: str | None = None  # CI_PIPELINE_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> CiJob:
        return cls(settings.gitlab_user_login, settings.ci_commit_sha, settings.ci_pipeline_url)


NO_JOB = CiJob()


def actor(explicit: str | None = None, login: str | None = None) -> str:
    """``explicit`` (``--actor``), else ``login`` (GITLAB_USER_LOGIN), else the OS user."""
    advice = "pass --actor NAME with a user name of printable characters"
    if explicit is not None:
        return printable(explicit, "--actor", limit=MAX_ACTOR, advice=advice)
    if login:
        return printable(login, "GITLAB_USER_LOGIN", limit=MAX_ACTOR, advice=advice)
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry or USER
        raise InvalidText(
            "cannot tell who is making this change: GITLAB_USER_LOGIN and USER are unset and "
            f"the OS user has no name. {advice[0].upper()}{advice[1:]}"
        ) from None
    return printable(user, "the OS user name", limit=MAX_ACTOR, advice=advice)


def commit_sha(sha: str | None) -> str | None:
    """``CI_COMMIT_SHA``: a hexadecimal commit id (SHA-1 or SHA-256), or None when unset."""
    if sha is not None and not _COMMIT_SHA.fullmatch(sha):
        raise InvalidText(
            f"CI_COMMIT_SHA {excerpt(sha)} is not a commit id (4 to 64 hexadecimal digits): "
            "unset it, or set it to the commit being applied (GitLab sets it in every job)"
        )
    return sha


def pipeline_url(url: str | None) -> str | None:
    """``CI_PIPELINE_URL``: an http(s) URL without credentials, or None when unset."""
    if url is None:
        return None
    advice = "unset it, or set it to the pipeline's http(s) URL (GitLab sets it in every job)"
    printable(url, "CI_PIPELINE_URL", limit=MAX_URL, advice=advice)
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidText(f"CI_PIPELINE_URL {excerpt(url)} is not an http(s) URL: {advice}")
    if " " in url or "@" in parts.netloc:
        raise InvalidText(
            f"CI_PIPELINE_URL {excerpt(url)} holds spaces or credentials (user@): {advice}"
        )
    return url


def check(explicit_actor: str | None, job: CiJob) -> None:
    """Check every field an audit row will record, before anything is written."""
    actor(explicit_actor, job.user_login)
    commit_sha(job.commit_sha)
    pipeline_url(job.pipeline_url)
