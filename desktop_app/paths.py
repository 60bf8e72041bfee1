"""Where things live: the user's data (library, settings, caches), logs, and shipped assets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "hashlens"
ENV_HOME = "HASHLENS_HOME"


def _root() -> Path:
    """The folder holding model_assets/ and resources/: a PyInstaller bundle's, the checkout's
    (source and editable installs), or <prefix>/share/hashlens of a `pip install hashlens`."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "model_assets").is_dir():
        return checkout
    installed = Path(sys.prefix) / "share" / APP_NAME
    return installed if installed.is_dir() else checkout


def model_assets_dir() -> Path:
    return _root() / "model_assets"


def resources_dir() -> Path:
    return _root() / "resources"


def notices_path() -> Path:
    """THIRD_PARTY_NOTICES.md: the licences of the shipped models, libraries and data."""
    return _root() / "THIRD_PARTY_NOTICES.md"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The user's library folder: --library DIR, else $HASHLENS_HOME, else the platform dir."""
    if override:
        return Path(override).expanduser()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
