"""The Linux desktop entry: `make install-desktop` puts it (and the icon) where menus look."""

from __future__ import annotations

import configparser
import mimetypes
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.imaging import IMAGE_SUFFIXES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_install_desktop_writes_an_entry_for_photos(tmp_path):
    out = subprocess.run(["make", "-s", "install-desktop", f"DESKTOP_DIR={tmp_path}",
                          f"HASHLENS_EXEC={sys.executable}"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    entry = tmp_path / "applications" / "hashlens.desktop"
    assert (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "hashlens.svg").is_file()
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str
    ini.read_string(entry.read_text(encoding="utf-8"))
    e = ini["Desktop Entry"]
    assert e["Exec"] == f"{sys.executable} %F" and e["Icon"] == "hashlens" and e["Type"] == "Application"
    types = set(filter(None, e["MimeType"].split(";")))
    for suffix in (".jpg", ".png", ".webp", ".tif", ".gif", ".bmp"):
        assert suffix in IMAGE_SUFFIXES and mimetypes.types_map.get(suffix, "image/webp") in types
    assert {"image/heic", "image/heif"} <= types
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
