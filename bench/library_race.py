"""Reads of the tag library while another process writes it: how many are wrongly reported damaged.

A writer process records decisions without pause (with a WAL checkpoint every
`--checkpoint` pages: the WAL written back into the file, which grows: the moment a byte test of
the header used to race with). Meanwhile this process opens the library `--reads` times (a new
connection each time, as each `hashlens library stats` does) and reads its stats, runs SQLite's
quick_check `--checks` times, and runs `hashlens library stats` as a command `--cli` times.
Every 'damaged' report is a false one: the library is checked with integrity_check at the end.

    .venv/bin/python bench/library_race.py                        # 1,000 reads, 100 checks
    .venv/bin/python bench/library_race.py --cli 100 --checkpoint 1000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop_app.errors import LibraryError  # noqa: E402
from desktop_app.library.store import DB_NAME, TagLibrary  # noqa: E402

WRITER = """
    import sys
    from desktop_app.library.store import TagLibrary
    lib = TagLibrary.open(sys.argv[1], habit_features=None)
    lib.db.conn.execute(f"PRAGMA wal_autocheckpoint = {int(sys.argv[2])}")
    print("ready", flush=True)
    i = 0
    while True:
        lib.record_decisions(f"photo{i}", approve=[f"#a{i % 97}", f"#b{i % 89}", "#x"],
                             reject=[f"#r{i % 13}"], add=[f"#t{i}"])
        i += 1
        if i % 50 == 0:
            print(i, flush=True)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=1000, help="open + stats, in this process")
    ap.add_argument("--checks", type=int, default=100, help="SQLite quick_checks (diagnose)")
    ap.add_argument("--cli", type=int, default=0, help="`hashlens library stats` processes")
    ap.add_argument("--checkpoint", type=int, default=40,
                    help="the writer's wal_autocheckpoint in pages (SQLite's default: 1000)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)

    from desktop_app.library import integrity

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lib"
        TagLibrary.open(folder, habit_features=None).close()
        env = dict(os.environ, PYTHONPATH=str(ROOT), HASHLENS_HOME=str(folder))
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(folder), str(args.checkpoint)],
            stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        assert writer.stdout.readline().strip() == "ready"
        size0 = (folder / DB_NAME).stat().st_size
        out: dict = {"checkpoint_pages": args.checkpoint}
        try:
            damaged, other, samples = 0, 0, []
            t0 = time.perf_counter()
            for _ in range(args.reads):
                try:
                    with TagLibrary.open(folder, habit_features=None) as lib:
                        lib.stats()
                except LibraryError as exc:
                    if "damaged" in str(exc):
                        damaged += 1
                    else:
                        other += 1
                    samples.append(str(exc)[:200])
            out["reads"] = {"n": args.reads, "damaged": damaged, "other_errors": other,
                            "ms_each": round((time.perf_counter() - t0) * 1000 / max(args.reads, 1), 2)}
            bad = 0
            t0 = time.perf_counter()
            for _ in range(args.checks):
                found = integrity.diagnose(folder / DB_NAME)
                if not found.ok:
                    bad += 1
                    samples.append(found.what[:200])
            out["checks"] = {"n": args.checks, "damaged": bad,
                             "ms_each": round((time.perf_counter() - t0) * 1000 / max(args.checks, 1), 1)}
            bad = other = 0
            t0 = time.perf_counter()
            for _ in range(args.cli):
                proc = subprocess.run(
                    [sys.executable, "-m", "desktop_app.cli", "library", "stats", "--json"],
                    capture_output=True, text=True, env=env, cwd=ROOT)
                if proc.returncode:
                    bad += "damaged" in proc.stderr
                    other += "damaged" not in proc.stderr
                    samples.append(proc.stderr[:200])
            out["cli"] = {"n": args.cli, "damaged": bad, "other_errors": other,
                          "s_each": round((time.perf_counter() - t0) / max(args.cli, 1), 2)}
        finally:
            writer.kill()
            writer.wait()
        writes = 0
        for line in writer.stdout.read().split():
            writes = max(writes, int(line)) if line.isdigit() else writes
        out["writer"] = {"writes_at_least": writes,
                         "file_mb": round((folder / DB_NAME).stat().st_size / 1e6, 2),
                         "file_mb_at_start": round(size0 / 1e6, 3)}
        after = integrity.diagnose(folder / DB_NAME, full=True)
        out["integrity_check_after"] = "ok" if after.ok else after.what
        out["samples"] = samples[:3]
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    false_reports = out["reads"]["damaged"] + out["checks"]["damaged"] + out["cli"]["damaged"]
    return 1 if false_reports else 0


if __name__ == "__main__":
    sys.exit(main())
