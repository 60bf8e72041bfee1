"""Measure the desktop app's start-up: to a visible window, and to the first tags of a photo.

    python build_scripts/measure_startup.py [--app dist/hashlens/hashlens] [--runs 5]
    python build_scripts/measure_startup.py --source        # the same, run from source
    python build_scripts/measure_startup.py --first-tags [--photo resources/samples/coffee.jpg]
    python build_scripts/measure_startup.py --cli-tags      # `hashlens tag` to its first result

Starts the app (without a command, i.e. the GUI) with HASHLENS_REPORT_STARTUP=1, which makes it
print `window-shown <unix time>` on stderr once its main window has been shown and the event
loop runs (desktop_app/ui/startup_report.py), and reports the wall-clock time from launching the
process to that line, and, with xdotool installed, to the moment X reports a mapped window
titled "hashlens". Without $DISPLAY it starts its own Xvfb (apt-get install xvfb).

--first-tags also sets HASHLENS_STARTUP_PHOTOS=PHOTO, which the app adds as if dropped on the
window right after showing it, and waits for `first-tags <unix time>` (the photo's hashtags are
in the window) and `max-stall-ms <ms>` (the longest the GUI thread went without running its
event loop, from the window being shown to 3 s after the tags: how frozen the window felt).

--cli-tags measures `hashlens tag --json --no-library PHOTO` to its first JSON line on stdout
instead (no window): the command-line equivalent.

Every run gets fresh, empty settings, library and cache folders, so nothing of the user's is
read or written. The first run reads the files from disk, the later ones mostly from the OS file
cache: both are reported.
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
WINDOW = "window-shown"
TAGS = "first-tags"
STALL = "max-stall-ms"  # a duration in ms, not a time
PHOTOS_ENV = "HASHLENS_STARTUP_PHOTOS"
DEFAULT_PHOTO = ROOT / "resources" / "samples" / "coffee.jpg"


class RunFailed(Exception):
    pass


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


def _fresh_env(env: dict[str, str], tmp: str) -> dict[str, str]:
    run_env = dict(env)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        run_env[var] = str(Path(tmp, var.lower()))
    run_env["HASHLENS_HOME"] = str(Path(tmp, "library"))
    return run_env


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def one_run(cmd: list[str], env: dict[str, str], timeout: float, markers: tuple[str, ...],
            optional: tuple[str, ...] = (), grace: float = 5.0) -> dict[str, float]:
    """Seconds from launch to each marker line on stderr (max-stall-ms: its duration in ms), and to
    "mapped" (xdotool sees the window; only when xdotool is installed). The optional markers
    are waited for up to `grace` seconds after the others."""
    poll_x = bool(shutil.which("xdotool")) and "DISPLAY" in env
    with tempfile.TemporaryDirectory(prefix="hashlens-startup-") as tmp:
        run_env = _fresh_env(env, tmp)
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True, cwd=ROOT)
        seen: dict[str, float] = {}
        tail: list[str] = []

        def read() -> None:  # the app writes little to stderr
            for line in proc.stderr:
                word, _, rest = line.partition(" ")
                if word in markers + optional and word not in seen:
                    value = float(rest.split()[0])
                    seen[word] = value if word == STALL else value - t0
                tail[:] = (tail + [line.rstrip()])[-20:]

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if poll_x and "mapped" not in seen and _window_visible(env):
                    seen["mapped"] = time.time() - t0
                if all(m in seen for m in markers) and ("mapped" in seen or not poll_x):
                    if all(m in seen for m in optional):
                        break
                    deadline = min(deadline, time.monotonic() + grace)
                time.sleep(0.02)
        finally:
            _stop(proc)
            reader.join(timeout=5)
        missing = [m for m in markers if m not in seen]
        if missing:
            last = "\n".join(tail)
            why = (f"exit {proc.returncode}" if proc.returncode not in (None, -signal.SIGTERM)
                   else f"no such line within {timeout:.0f} s")
            hint = ""
            if TAGS in missing and WINDOW in seen:
                hint = (f"\nThis build does not print `{TAGS}` (it needs {PHOTOS_ENV} and the "
                        "report of desktop_app/ui/startup_report.py), or did not tag the photo.")
            raise RunFailed(f"{', '.join(missing)} was not reported ({why}); last output:\n{last}{hint}")
        return seen


def cli_run(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, float]:
    """Seconds from launch to the first line on stdout (`hashlens tag --json`), and to exit."""
    with tempfile.TemporaryDirectory(prefix="hashlens-startup-") as tmp:
        t0 = time.time()
        proc = subprocess.Popen(cmd, env=_fresh_env(env, tmp), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
        try:
            first = proc.stdout.readline()
            t_first = time.time() - t0
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            sys.exit(f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s")
        if proc.returncode != 0 or not first.startswith("{"):
            sys.exit(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{err[-2000:]}")
        return {"first-result": t_first, "exit": time.time() - t0}


def _summary(name: str, values: list[float], unit: str = "s") -> str:
    fmt = ".2f" if unit == "s" else ".0f"
    line = f"  {name}: first run {values[0]:{fmt}} {unit}"
    if len(values) > 1:
        rest = values[1:]
        line += (f", later runs median {statistics.median(rest):{fmt}} {unit} "
                 f"(min {min(rest):{fmt}}, max {max(rest):{fmt}}, {len(rest)} runs)")
    return line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--app", default=str(ROOT / "dist" / "hashlens" / "hashlens"),
                    help="the bundled executable (default: dist/hashlens/hashlens)")
    ap.add_argument("--source", action="store_true", help="run from source with this Python instead")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=180,
                    help="seconds to wait for the window (and the tags) in one run")
    ap.add_argument("--first-tags", action="store_true",
                    help=f"have the app tag --photo at start ({PHOTOS_ENV}) and time its first tags too")
    ap.add_argument("--cli-tags", action="store_true",
                    help="time `hashlens tag --json --no-library PHOTO` to its first result instead")
    ap.add_argument("--photo", default=str(DEFAULT_PHOTO),
                    help="the photo for --first-tags and --cli-tags (default: resources/samples/coffee.jpg)")
    args = ap.parse_args()
    photo = str(Path(args.photo).resolve())
    if (args.first_tags or args.cli_tags) and not Path(photo).is_file():
        ap.error(f"no such photo: {photo}")

    if args.source:
        base = [sys.executable, "-m", "desktop_app.cli"]
        label = "from source"
    else:
        app = Path(args.app)
        if not app.exists():
            sys.exit(f"{app} does not exist: build it first (make bundle)")
        base = [str(app)]
        label = str(app)
        size = folder_size(app.parent)
        print(f"bundle size: {size / 2**20:.0f} MiB ({app.parent})")

    env = dict(os.environ, HASHLENS_REPORT_STARTUP="1")
    if args.source:  # (and the runs start in ROOT: this checkout's desktop_app, not an installed one)
        env["PYTHONPATH"] = str(ROOT)
    runs = max(1, args.runs)

    if args.cli_tags:
        env["QT_QPA_PLATFORM"] = "offscreen"  # (the command line never opens Qt)
        cmd = [*base, "tag", "--json", "--no-library", photo]
        times = [cli_run(cmd, env, args.timeout) for _ in range(runs)]
        print(f"`hashlens tag --json --no-library {Path(photo).name}`, {label}:")
        print(_summary("launch to the first result on stdout", [t["first-result"] for t in times]))
        print(_summary("launch to exit", [t["exit"] for t in times]))
        return 0

    markers: tuple[str, ...] = (WINDOW,)
    optional: tuple[str, ...] = ()
    if args.first_tags:
        env[PHOTOS_ENV] = photo
        markers, optional = (WINDOW, TAGS), (STALL,)
    else:
        env.pop(PHOTOS_ENV, None)

    env.pop("QT_QPA_PLATFORM", None)  # a real (X11) window, not offscreen
    xvfb = None
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        xvfb, env["DISPLAY"] = start_xvfb()
    times = []
    try:
        for _ in range(runs):
            try:
                times.append(one_run(base, env, args.timeout, markers, optional))
            except RunFailed as exc:
                # Our Xvfb ended or unreachable (seen on a shared machine, where other jobs start
                # and clean up X servers: "could not connect to display", then "no Qt platform
                # plugin could be initialized"): start another and run again, once.
                if xvfb is None or (xvfb.poll() is None and "connect to display" not in str(exc)):
                    sys.exit(str(exc))
                print(f"(the app could not reach Xvfb {env['DISPLAY']}: restarted it, run repeated)",
                      file=sys.stderr)
                xvfb.terminate()
                xvfb.wait()
                xvfb, env["DISPLAY"] = start_xvfb()
                try:
                    times.append(one_run(base, env, args.timeout, markers, optional))
                except RunFailed as again:
                    sys.exit(str(again))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    print(f"start-up, {label}:")
    names = {WINDOW: "to the app's window-shown report", "mapped": "to xdotool seeing the window mapped",
             TAGS: f"to the first tags of {Path(photo).name} in the window"}
    for key, name in names.items():
        if all(key in t for t in times):
            print(_summary(name, [t[key] for t in times]))
    if args.first_tags and all(STALL in t for t in times):  # printed 3 s after the tags
        print(_summary("the GUI thread's longest stall (window shown to 3 s after the tags)",
                       [t[STALL] for t in times], "ms"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
