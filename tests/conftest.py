"""Fixtures shared across the test packages.

Tests never touch the user's real folders: before any test runs, the platform's data, state
(logs), cache and config folders and HASHLENS_HOME point into a temporary folder, for this
process and every process a test starts (platformdirs and Qt read the XDG variables).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SANDBOX = Path(tempfile.mkdtemp(prefix="hashlens-tests-"))
for _var in ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
    os.environ[_var] = str(_SANDBOX / _var.lower())
os.environ["HASHLENS_HOME"] = str(_SANDBOX / "hashlens-home")
atexit.register(shutil.rmtree, _SANDBOX, ignore_errors=True)

from desktop_app.library.store import TagLibrary  # noqa: E402


@pytest.fixture
def library(tmp_path):
    """A fresh tag library in a temporary folder, closed afterwards."""
    lib = TagLibrary.open(tmp_path / "library")
    yield lib
    lib.close()

