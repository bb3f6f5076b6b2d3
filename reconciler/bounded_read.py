"""Reading an HTTP answer we do not control (an endpoint's): by a deadline, and capped.

A read timeout bounds each socket read, not the answer: an endpoint trickling a
byte at a time holds the reader for ever, and one answering gigabytes fills its
memory. Used on urllib3 responses opened with ``preload_content=False``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

CHUNK = 64 << 10  # bytes asked of each read


class AnswerTooLarge(Exception):
    """The answer is longer than ``limit`` bytes (the rest is left unread)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer longer than {limit} bytes")
        self.limit = limit


def read_bounded(response: Any, *, deadline: float, limit: int) -> bytes:
    """The body of ``response``, read by ``deadline`` (``time.monotonic()``).

    At the deadline the socket is shut down under the read (urllib3's
    ``HTTPResponse.shutdown``, made for another thread). Raises urllib3's
    ``ReadTimeoutError`` past the deadline and ``AnswerTooLarge`` past ``limit``
    bytes; either way the connection is closed, never drained back into its pool.
    The body is read as sent (not decoded): a compressed answer cannot grow past
    the cap in memory.
    """
    from urllib3.exceptions import ReadTimeoutError

    expired = threading.Event()

    def expire() -> None:
        expired.set()
        with contextlib.suppress(ValueError, RuntimeError, OSError):  # done meanwhile
            response.shutdown()

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), expire)
    watchdog.daemon = True
    watchdog.start()
    chunks: list[bytes] = []
    size, complete = 0, False
    try:
        while size <= limit:
            chunk = response.read1(min(CHUNK, limit + 1 - size), decode_content=False)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(limit)
        complete = not expired.is_set()  # a shut-down socket may read as a normal end
    except Exception:
        if not expired.is_set():
            raise
    finally:
        watchdog.cancel()
        if not complete:
            response.close()
        response.release_conn()
    if not complete:
        raise ReadTimeoutError(None, response.geturl(), "the answer did not end in time")
    return b"".join(chunks)
