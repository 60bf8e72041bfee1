"""The suite's own rule: no test reaches the user's real data, log, cache or config folders."""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import _WATCHED, changes, real_app_folders, snapshot


def test_the_users_folders_are_out_of_reach_of_every_test():
    from desktop_app.paths import cache_dir, data_dir, log_dir

    home = Path.home()
    for folder in (data_dir(), log_dir(), cache_dir()):
        assert "hashlens-tests-" in str(folder), folder
        assert not folder.is_relative_to(home / ".local") and not folder.is_relative_to(home / ".cache")


def test_the_check_sees_a_write_in_the_users_folders(tmp_path):
    home = tmp_path / "home"
    folders = real_app_folders({}, home)
    assert folders[0] == home / ".local" / "share" / "hashlens"
    assert home / ".local" / "state" / "hashlens" in folders and home / ".config" / "hashlens" in folders
    before = snapshot(folders)
    log = home / ".local" / "state" / "hashlens" / "log" / "hashlens.log"
    log.parent.mkdir(parents=True)
    log.write_text("Traceback: out of memory")
    found = changes(before, snapshot(folders))
    assert f"created {log}" in found
    before = snapshot(folders)
    log.write_text("Traceback: out of memory, library is damaged")
    assert changes(before, snapshot(folders)) == [f"changed {log}"]


def test_the_watched_folders_are_the_users_not_the_sandbox():
    assert _WATCHED and all("hashlens-tests-" not in str(f) for f in _WATCHED)


def test_the_app_and_the_cli_write_only_into_the_sandbox(tmp_path):
    """A GUI start-up and a failing CLI run (both log) in child processes, like the suite's."""
    before = snapshot(_WATCHED)
    code = ("import logging; from desktop_app.logsetup import setup_logging; setup_logging(); "
            "logging.getLogger('x').error('out of memory'); "
            "from PySide6.QtWidgets import QApplication; app = QApplication([]); "
            "from desktop_app.ui.settings import SettingsStore, AppSettings; SettingsStore().save(AppSettings())")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    assert changes(before, snapshot(_WATCHED)) == []
    sandbox_log = Path(os.environ["XDG_STATE_HOME"]) / "hashlens" / "log" / "hashlens.log"
    assert "out of memory" in sandbox_log.read_text()
