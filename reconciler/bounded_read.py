"""Reading an HTTP answer we do not control (an endpoint's): by a deadline, and capped.

A read timeout bounds each socket read, not the answer: an endpoint trickling a
byte at a time holds the reader for ever, and one answering gigabytes fills its
memory. Used on urllib3 responses opened with ``preload_content=False``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

CHUNK = 64 << 10  # bytes asked of each read


class AnswerTooLarge(Exception):
    """The answer is longer than ``limit`` bytes (the rest is left unread)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer longer than {limit} bytes")
        self.limit = limit


@contextlib.contextmanager
def deadline(at: float, cut: Callable[[], object], url: str) -> Iterator[None]:
    """Call ``cut`` at ``at`` (``time.monotonic()``) if the block still runs.

    ``cut`` shuts the socket down under a blocked read (from this other thread).
    Once it has run, the block ends in urllib3's ``ReadTimeoutError`` whatever it
    made of the cut: an error, or an end of answer that is none.
    """
    from urllib3.exceptions import ReadTimeoutError

    expired = threading.Event()

    def expire() -> None:
        expired.set()
        with contextlib.suppress(Exception):  # the connection ended meanwhile
            cut()

    watchdog = threading.Timer(max(0.0, at - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    except Exception:
        if not expired.is_set():
            raise
    finally:
        watchdog.cancel()
    if expired.is_set():
        raise ReadTimeoutError(None, url, "the answer did not end in time")


def read_capped(response: Any, limit: int) -> bytes:
    """The body of ``response``, or ``AnswerTooLarge`` past ``limit`` bytes.

    Read as sent, not decoded (a compressed answer cannot grow past the cap in
    memory). Unless read to its end, the connection is closed, never drained back
    into its pool.
    """
    chunks: list[bytes] = []
    size, complete = 0, False
    try:
        while chunk := response.read1(min(CHUNK, limit + 1 - size), decode_content=False):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(limit)
        complete = True
    finally:
        if not complete:
            response.close()
        response.release_conn()
    return b"".join(chunks)
