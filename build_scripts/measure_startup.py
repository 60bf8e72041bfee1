"""Measure the desktop bundle's start-up time to a visible window, and its size.

    python build_scripts/measure_startup.py [--app dist/hashlens/hashlens] [--runs 5]
    python build_scripts/measure_startup.py --source        # the same, run from source

Starts the app (without a command, i.e. the GUI) with HASHLENS_REPORT_STARTUP=1, which makes it
print `window-shown <unix time>` on stderr once its main window has been shown and the event
loop runs (desktop_app/ui/app.py), and reports the wall-clock time from launching the process to
that line, and, with xdotool installed, to the moment X reports a mapped window titled "hashlens". Without $DISPLAY it starts its own Xvfb (apt-get install xvfb). Every run gets fresh,
empty settings, library and cache folders, so nothing of the user's is read or written. The
first run reads the files from disk, the later ones mostly from the OS file cache: both are
reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "window-shown "


def folder_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """A private Xvfb; it picks a free display itself (-displayfd) and says when it is ready."""
    if not shutil.which("Xvfb"):
        sys.exit("no $DISPLAY and no Xvfb: apt-get install xvfb (or run under a desktop)")
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], pass_fds=(wfd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(wfd)
    with os.fdopen(rfd) as fh:
        number = fh.readline().strip()
    if not number:
        proc.kill()
        sys.exit("could not start Xvfb")
    return proc, f":{number}"


def _window_visible(env: dict[str, str]) -> bool:
    """Whether X has a mapped (viewable) window titled "hashlens" (needs xdotool)."""
    res = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^hashlens$"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return res.returncode == 0 and bool(res.stdout.strip())


def one_run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, float | None]:
    """(seconds to the app's window-shown line, seconds until xdotool sees the window mapped)."""
    poll_x = bool(shutil.which("xdotool")) and "DISPLAY" in env
    with tempfile.TemporaryDirectory(prefix="hashlens-startup-") as tmp:
        run_env = dict(env)
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            run_env[var] = str(Path(tmp, var.lower()))
        run_env["HASHLENS_HOME"] = str(Path(tmp, "library"))
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        shown: list[float] = []
        tail: list[str] = []

        def read() -> None:  # the app writes little to stderr before the window
            for line in proc.stderr:
                if line.startswith(MARKER) and not shown:
                    shown.append(float(line.split()[1]))
                tail[:] = (tail + [line.rstrip()])[-20:]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        mapped = None
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if poll_x and mapped is None and _window_visible(env):
                    mapped = time.time()
                if shown and (mapped is not None or not poll_x):
                    break
                time.sleep(0.02)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if not shown:
            last = "\n".join(tail)
            sys.exit(f"the window was not reported (exit {proc.returncode}); last output:\n{last}")
        return shown[0] - t0, (mapped - t0 if mapped is not None else None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", default=str(ROOT / "dist" / "hashlens" / "hashlens"),
                    help="the bundled executable (default: dist/hashlens/hashlens)")
    ap.add_argument("--source", action="store_true", help="run from source with this Python instead")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=180, help="seconds to wait for the window")
    args = ap.parse_args()

    if args.source:
        cmd = [sys.executable, "-m", "desktop_app.cli"]
        label = "from source"
    else:
        app = Path(args.app)
        if not app.exists():
            sys.exit(f"{app} does not exist: build it first (make bundle)")
        cmd = [str(app)]
        label = str(app)
        size = folder_size(app.parent)
        print(f"bundle size: {size / 2**20:.0f} MiB ({app.parent})")

    env = dict(os.environ, HASHLENS_REPORT_STARTUP="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("QT_QPA_PLATFORM", None)  # a real (X11) window, not offscreen
    xvfb = None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        xvfb, env["DISPLAY"] = start_xvfb()
    try:
        if args.source:
            env["PYTHONPATH"] = str(ROOT)
        times = [one_run(cmd, env, args.timeout) for _ in range(max(1, args.runs))]
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    print(f"start-up to a visible window, {label}:")
    for name, values in (("app's window-shown report", [t for t, _ in times]),
                         ("xdotool sees the window mapped", [m for _, m in times])):
        if any(v is None for v in values):
            continue
        line = f"  {name}: first run {values[0]:.2f} s"
        if len(values) > 1:
            rest = values[1:]
            line += (f", later runs median {statistics.median(rest):.2f} s "
                     f"(min {min(rest):.2f}, max {max(rest):.2f}, {len(rest)} runs)")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
