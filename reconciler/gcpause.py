"""Pausing Python's cyclic garbage collector while a plan builds large values.

Loading a manifest and decoding the cluster's list answers make dozens of
objects per model that all live until the step ends, and the collector
rescans them again and again as they age. At 10,000 models that was 40% of
the manifest load and 30% of observing the cluster; at 100,000, 65% of the
load (benchmarks/). Nothing these steps build needs the cycle collector to be
freed, and the inputs are bounded (a manifest is at most 5 MiB), so a pause
leaves little uncollected; collection resumes when the step ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (reference counting still frees)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
