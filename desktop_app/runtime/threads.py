"""How many threads the app's numerical libraries use.

The app starts NumPy's OpenBLAS on one thread (desktop_app/__init__.py): while the next photos
are decoded on the other cores, extra BLAS threads only fight them and busy-wait. When nothing
else runs (one photo, the last batch), the decoder's per-word products are memory-bound and
read ~10 MB of weights a step, so two cores' bandwidth makes a caption ~40 % faster
(bench/captioner_speed.py: beam search 48 -> 29 ms for one 12 MP photo on 2 cores).
`numpy_threads(n)` sets the BLAS threads for a block (threadpoolctl; ~0.2 ms a switch).
"""

from __future__ import annotations

import contextlib
import os
import threading
from functools import lru_cache


def cpu_threads() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


_lock = threading.Lock()  # the setting is process-wide: one block at a time sets it


@contextlib.contextmanager
def numpy_threads(n: int):
    """Run the block with NumPy's BLAS on `n` threads (back to what it was afterwards)."""
    with _lock, _controller().limit(limits=max(1, n), user_api="blas"):
        yield
