"""The state of one command line: its settings, its verbosity, what it has said.

``run()`` begins a fresh ``Session`` per call, so commands run in-process one
after the other (the tests) share nothing: not the settings, not the notices
already said, not an open cache client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.cache import Cache
    from registry.db import Target
    from registry.settings import Settings


@dataclass
class Session:
    quiet: bool = False  # -q: no notices, no warnings; errors and results only
    verbose: bool = False  # -v: detail notices too (which database, timing)
    debug: bool = False  # --debug: the traceback of an internal error
    color: bool = False  # escape codes on stderr/stdout (decided by the "cli" options)
    said: set[str] = field(default_factory=set)  # notices already said, said once
    database: Target | None = None  # the database this command opened (for its errors)
    cache: Cache | None = None
    cache_opened: bool = False  # REDIS_URL read (cache may still be None: cache off)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The environment, read and validated on first use (an ``InvalidSetting`` then)."""
        if self._settings is None:
            from registry.settings import Settings

            self._settings = Settings.from_env()
        return self._settings


_current = Session()


def begin(**options) -> Session:
    """Start the session of a new command line and return it."""
    global _current
    _current = Session(**options)
    return _current


def current() -> Session:
    return _current


def notice(text: str) -> None:
    """Say ``text`` on stderr once per command line, unless -q."""
    session = _current
    if session.quiet or text in session.said:
        return
    session.said.add(text)
    from .common import say

    say(text)


def detail(text: str) -> None:
    """A notice said with -v only (once, like every notice)."""
    if _current.verbose:
        notice(text)
