"""Fixtures shared across the test packages."""

from __future__ import annotations

import pytest

from desktop_app.library.store import TagLibrary


@pytest.fixture
def library(tmp_path):
    """A fresh tag library in a temporary folder, closed afterwards."""
    lib = TagLibrary.open(tmp_path / "library")
    yield lib
    lib.close()
