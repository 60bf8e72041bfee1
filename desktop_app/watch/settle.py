"""Is a file done being written? Size and mtime unchanged for a quiet period.

A camera import or a browser download writes a file over seconds; reading it early gives a
truncated photo. `Settler` remembers the last (size, mtime) seen per path and says a file is
settled once the same pair has been seen for `quiet_s`. A file whose mtime is already older than
`trust_old_s` has not been written to for that long and is settled at once (so the catch-up
scan at start does not wait for thousands of old photos). Pure: the clocks are injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float  # monotonic time the pair was first seen


class Settler:
    def __init__(
        self,
        quiet_s: float = 1.0,
        trust_old_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_tracked: int = 100_000,
    ):
        self.quiet_s = quiet_s
        self.trust_old_s = trust_old_s
        self.clock = clock
        self.wall = wall
        self.max_tracked = max_tracked
        self._seen: dict[str, _Seen] = {}

    def wait_s(self, path: str, size: int, mtime: float) -> float:
        """Seconds still to wait before `path` counts as settled (0.0: read it now)."""
        now = self.clock()
        if self.trust_old_s >= 0 and self.wall() - mtime >= self.trust_old_s and size > 0:
            self._seen.pop(path, None)
            return 0.0
        seen = self._seen.get(path)
        if seen is None or seen.size != size or seen.mtime != mtime:
            if len(self._seen) >= self.max_tracked:  # bounded memory: forget the oldest
                self._seen.pop(next(iter(self._seen)))
            self._seen[path] = _Seen(size, mtime, now)
            return self.quiet_s
        left = seen.since + self.quiet_s - now
        if left <= 0:
            return 0.0
        return left

    def forget(self, path: str) -> None:
        self._seen.pop(path, None)

    def __len__(self) -> int:
        return len(self._seen)
