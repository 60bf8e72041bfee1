"""Fixtures shared across the test packages.

Tests never touch the user's real folders: before any test runs, the platform's data, state
(logs), cache and config folders and HASHLENS_HOME point into a temporary folder, for this
process and every process a test starts (platformdirs and Qt read the XDG variables). The
user's own hashlens folders are listed before the suite and again at its end: anything created,
changed or removed there fails the run (`pytest_sessionfinish`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

XDG_DEFAULTS = {"XDG_DATA_HOME": ".local/share", "XDG_STATE_HOME": ".local/state",
                "XDG_CACHE_HOME": ".cache", "XDG_CONFIG_HOME": ".config"}


def real_app_folders(env: dict[str, str | None], home: Path) -> list[Path]:
    """Where hashlens keeps the user's data, logs, caches and settings for `env` (the variables
    as the user had them): what no test may write to."""
    folders = [Path(env.get(var) or home / default) / "hashlens" for var, default in XDG_DEFAULTS.items()]
    if env.get("HASHLENS_HOME"):
        folders.append(Path(env["HASHLENS_HOME"]))
    return folders


def snapshot(folders: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file under `folders`: path -> (size, mtime_ns)."""
    found: dict[str, tuple[int, int]] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for p in [folder, *folder.rglob("*")]:
            try:
                st = p.lstat()
            except OSError:
                continue
            found[str(p)] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return found


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """What was created, changed or removed between two snapshots, one line each."""
    out = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    out += [f"removed {p}" for p in sorted(before.keys() - after.keys())]
    out += [f"changed {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]]
    return out


_USER_ENV = {var: os.environ.get(var) for var in (*XDG_DEFAULTS, "HASHLENS_HOME")}
_WATCHED = real_app_folders(_USER_ENV, Path.home())
_BEFORE = snapshot(_WATCHED)

_SANDBOX = Path(tempfile.mkdtemp(prefix="hashlens-tests-"))
for _var in XDG_DEFAULTS:
    os.environ[_var] = str(_SANDBOX / _var.lower())
os.environ["HASHLENS_HOME"] = str(_SANDBOX / "hashlens-home")
atexit.register(shutil.rmtree, _SANDBOX, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    """The suite fails when anything was written to the user's own hashlens folders."""
    found = changes(_BEFORE, snapshot(_WATCHED))
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["tests wrote outside their temporary folders:", *found[:20]]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True)
        session.exitstatus = 1

from desktop_app.library.store import TagLibrary  # noqa: E402


@pytest.fixture
def library(tmp_path):
    """A fresh tag library in a temporary folder, closed afterwards."""
    lib = TagLibrary.open(tmp_path / "library")
    yield lib
    lib.close()

