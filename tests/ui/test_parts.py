"""Thumbnails, settings, the caption editor and chip tooltips."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings

from desktop_app.results import HashtagSuggestion
from desktop_app.session.photo import edited_caption
from desktop_app.ui.chips import tooltip_for
from desktop_app.ui.detail import caption_html
from desktop_app.ui.settings import AppSettings, SettingsStore
from desktop_app.ui.thumbnails import ThumbnailCache

from .fakes import FakeCaptioner, make_photos


def test_thumbnail_cache_makes_once_and_follows_edits(tmp_path, qapp):
    (photo,) = make_photos(tmp_path / "p", 1)
    cache = ThumbnailCache(tmp_path / "thumbs", max_side=64)
    first = cache.get_or_make(photo)
    assert first.exists() and first.is_relative_to(tmp_path / "thumbs")
    stamp = first.stat().st_mtime_ns
    assert cache.get_or_make(photo) == first and first.stat().st_mtime_ns == stamp
    img = cache.load_qimage(photo)
    assert max(img.width(), img.height()) == 64
    photo.write_bytes(make_photos(tmp_path / "q", 2)[1].read_bytes())
    assert cache.get_or_make(photo) != first


def test_settings_roundtrip_and_validation(tmp_path, qapp):
    q = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store = SettingsStore(q)
    assert store.load() == AppSettings()
    s = AppSettings(style="underscored", top_k=7, beam=1, watched_folders=["/a", "/b"],
                    library_dir="/lib", with_caption=True, theme="dark")
    store.save(s)
    assert SettingsStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)).load() == s
    q.setValue("top_k", 99)
    q.setValue("style", "weird")
    q.setValue("watched_folders", "/only")
    got = store.load()
    assert got.top_k == 30 and got.style == "joined" and got.watched_folders == ["/only"]


def test_edited_caption_keeps_known_words_attention():
    (cap,) = FakeCaptioner().caption_batch(np.zeros((1, 224, 224, 3), np.uint8))
    new = edited_caption(cap, "A bear on snow")
    assert new.tokens == ("a", "bear", "on", "snow")
    np.testing.assert_array_equal(new.attention[1], cap.attention[2])
    assert np.ptp(new.attention[3]) == 0  # a new word: flat, no map
    assert new.attention.shape == (4, 49)


def test_caption_html_links_and_highlight():
    html = caption_html(("a", "<dog>"), 1, "#123456", muted={0})
    assert 'href="#w1"' in html and "&lt;dog&gt;" in html and 'href="#w0"' not in html
    assert "background:#123456" in html


def test_chip_tooltip_says_why():
    s = HashtagSuggestion("#teddybear", 0.8, "caption", (1, 2), ("teddy", "bear"),
                          {"model": 1.2, "approval": 0.4}, "you approved this on 3 photos")
    tip = tooltip_for(s)
    assert "80%" in tip and "you approved this on 3 photos" in tip
    assert "teddy bear" in tip and "approval +0.40" in tip


def test_settings_name_the_library_folder_hashlens_home_points_at(monkeypatch, tmp_path, qapp):
    from desktop_app.ui.settings import SettingsDialog, default_library_text

    monkeypatch.setenv("HASHLENS_HOME", str(tmp_path / "home"))
    assert default_library_text() == f"{tmp_path / 'home'} (from HASHLENS_HOME)"
    dlg = SettingsDialog(AppSettings())
    assert "default location" not in dlg.library_dir.placeholderText()
    assert str(tmp_path / "home") in dlg.library_dir.placeholderText()
    monkeypatch.delenv("HASHLENS_HOME")
    assert default_library_text().endswith("(the default)")


def test_file_dialogs_start_in_the_pictures_folder(monkeypatch, tmp_path):
    import platformdirs

    from desktop_app.ui.window import pictures_dir

    monkeypatch.setattr(platformdirs, "user_pictures_dir", lambda: str(tmp_path / "Pictures"))
    assert pictures_dir() == str(tmp_path / "Pictures")
