"""The third-party notice lists every shipped model and is up to date with the registry."""

from desktop_app.paths import model_assets_dir, notices_path
from desktop_app.runtime.notices import render
from desktop_app.runtime.registry import read_registry


def test_the_notice_file_is_generated_from_the_current_registry():
    entries = read_registry()
    text = notices_path().read_text(encoding="utf-8")
    assert text == render(entries), "run: python -m desktop_app.runtime.notices"
    for e in entries.values():
        assert e.file in text and e.licence in text
    assert "LGPL" in text and "Flickr8k" in text and "ImageNet" in text
    assert (model_assets_dir().parent / "LICENSE").read_text().startswith("MIT License")
