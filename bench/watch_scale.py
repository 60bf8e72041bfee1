"""Queue 10,000 photos from a watched folder: time and memory of the catch-up scan.

Run: python bench/watch_scale.py [N]. Creates N tiny files in a temporary tree (100 folders),
then measures (1) the streaming scan alone, (2) scan + queue into a fresh library (the service's
start-up path), (3) the same again (a restart: everything already queued, nothing added), with
tracemalloc peaks for Python memory and the process's max RSS. No captioning.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.library.store import TagLibrary  # noqa: E402
from desktop_app.watch.queue import WatchQueue  # noqa: E402
from desktop_app.watch.scanner import scan  # noqa: E402


def measure(label: str, fn) -> None:
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<34} {dt:7.2f} s   peak Python {peak / 1e6:6.2f} MB   max RSS {rss:6.1f} MB   -> {out}")


def main(n: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "photos"
        for i in range(n):
            d = root / f"d{i % 100:03d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"IMG_{i:05d}.jpg").write_bytes(b"\xff\xd8" + i.to_bytes(4, "big"))
        print(f"{n} files in 100 folders")
        t0 = time.perf_counter()
        sum(1 for _ in scan([str(root)]))
        print(f"{'scan only, without tracemalloc':<34} {time.perf_counter() - t0:7.2f} s")
        measure("scan only (streamed)", lambda: sum(1 for _ in scan([str(root)])))
        lib = TagLibrary.open(Path(tmp) / "lib")
        q = WatchQueue(lib)
        measure("scan + queue (fresh library)", lambda: q.add_many(scan([str(root)])))
        measure("scan + queue again (restart)", lambda: q.add_many(scan([str(root)])))
        print("stats:", {k: lib.stats()[k] for k in ("queued", "photos")})
        lib.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
