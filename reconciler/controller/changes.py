"""Noticing desired-state changes (an apply, an imperative command) within a second or two.

Every revision bump sends ``NOTIFY registry_changes, '<environment>'`` at its
commit (``store.write_changes``). LISTEN needs a session, which PgBouncer in
transaction mode does not give, so it is used only on ``REGISTRY_LISTEN_URL``
(a direct server URL); otherwise, and while that connection is down, the
environments' revisions are polled once a second (one query on their primary key).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from registry import db, store

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0


class RegistryChanges:
    """Calls ``on_change(environment)`` for each committed change of ``environments``."""

    def __init__(
        self,
        environments: Sequence[str],
        *,
        target: db.Target,
        listen_url: str | None,
        on_change: Callable[[str], None],
    ) -> None:
        self.environments = list(environments)
        self.target = target
        self.listen_url = listen_url
        self.on_change = on_change
        self.revisions: dict[str, int] = {}
        self.thread = threading.Thread(target=self.run, name="registry-changes", daemon=True)

    def start(self, stop: threading.Event) -> None:
        self.stop = stop
        self.thread.start()

    def run(self) -> None:
        conn = None
        while not self.stop.is_set():
            try:
                if self.listen_url:
                    self._listen()
                else:
                    conn = conn or db.connect(self.target, prepare_schema=False)
                    self._poll(conn)
                    self.stop.wait(POLL_INTERVAL)
            except Exception as error:  # noqa: BLE001 (reconnect and carry on)
                log.warning("cannot follow registry changes (%s); retrying", _summary(error))
                conn = None
                self.stop.wait(POLL_INTERVAL)

    def _poll(self, conn) -> None:
        current = store.revisions(conn, self.environments)
        for environment in self.environments:
            if current.get(environment, 0) != self.revisions.get(environment):
                self.revisions[environment] = current.get(environment, 0)
                self.on_change(environment)

    def _listen(self) -> None:
        listen = replace(
            self.target,
            url=self.listen_url,
            description=db.describe(self.listen_url, self.target.libpq),
        )
        with db.connect(listen, prepare_schema=False) as conn:
            conn.execute(f"LISTEN {store.CHANGES_CHANNEL}")
            self._poll(conn)  # whatever changed while we were not listening
            while not self.stop.is_set():
                for notice in conn.notifies(timeout=POLL_INTERVAL):
                    if notice.payload in self.environments:
                        self.on_change(notice.payload)
                conn.execute("SELECT 1")  # a dead connection raises here, not silently


def _summary(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
