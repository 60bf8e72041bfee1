"""XMP sidecars as photo managers leave them: read-only, symlinked, UTF-16/32, wrapped in an
xpacket with comments, named photo.xmp (Lightroom) or photo.jpg.xmp (darktable, digiKam)."""

from __future__ import annotations

import argparse
import codecs
import os
import stat
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from desktop_app.export.xmp import (
    NS,
    SidecarReadOnly,
    decode_sidecar,
    find_sidecar,
    merge_keywords,
    write_sidecar,
)

BEFORE = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n<!-- written by darktable -->\n'
ROOT = """<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
    <!-- keep me -->
    <rdf:Description rdf:about=""
        xmlns:darktable="http://darktable.sf.net/"
        xmlns:dc="http://purl.org/dc/elements/1.1/"
        darktable:xmp_version="5">
      <darktable:history><rdf:Seq><rdf:li darktable:operation="exposure"/></rdf:Seq></darktable:history>
      <dc:subject>
        <rdf:Bag>
          <rdf:li>holiday</rdf:li>
        </rdf:Bag>
      </dc:subject>
    </rdf:Description>
  </rdf:RDF>
</x:xmpmeta>"""
AFTER = "\n" + " " * 100 + "\n<!-- trailer -->\n<?xpacket end=\"w\"?>"
SIDECAR = BEFORE + ROOT + AFTER


def keywords(text: str) -> list[str]:
    body = text[text.index("<x:xmpmeta"):text.index("</x:xmpmeta>") + len("</x:xmpmeta>")]
    bag = ET.fromstring(body).find(f".//{{{NS['dc']}}}subject/{{{NS['rdf']}}}Bag")
    return [li.text for li in bag]


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.jpg"
    p.write_bytes(b"jpeg")
    return p


def test_wrapper_comments_and_layout_are_kept():
    out = merge_keywords(SIDECAR, ["teddybear", "Holiday"])
    assert out.startswith(BEFORE) and out.endswith(AFTER)  # xpacket, comments, padding
    assert "<!-- keep me -->" in out and 'darktable:operation="exposure"' in out
    assert keywords(out) == ["holiday", "teddybear"]
    # only the new keyword is added, indented like its neighbour
    assert "          <rdf:li>holiday</rdf:li>\n          <rdf:li>teddybear</rdf:li>\n        </rdf:Bag>" in out


def test_nothing_new_returns_the_text_itself():
    assert merge_keywords(SIDECAR, ["HOLIDAY"]) is SIDECAR


def test_a_subject_and_description_are_added_where_missing():
    bare = SIDECAR.replace(ROOT[ROOT.index("      <dc:subject>"):ROOT.index("    </rdf:Description>")], "")
    out = merge_keywords(bare, ["cat"], description="A cat.")
    assert out.startswith(BEFORE) and out.endswith(AFTER)
    assert keywords(out) == ["cat"]
    assert '<rdf:li xml:lang="x-default">A cat.</rdf:li>' in out
    # a self-closing Description (exiv2 writes attributes only) gains children too
    selfclosing = (BEFORE + '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
                   'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
                   'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="3"/>'
                   "</rdf:RDF></x:xmpmeta>" + AFTER)
    out = merge_keywords(selfclosing, ["cat"])
    assert keywords(out) == ["cat"] and 'xmp:Rating="3"' in out


def test_crlf_files_stay_crlf():
    crlf = SIDECAR.replace("\n", "\r\n")
    out = merge_keywords(crlf, ["teddybear"])
    assert out.count("\n") == out.count("\r\n") and keywords(out.replace("\r\n", "\n"))[-1] == "teddybear"


@pytest.mark.parametrize("codec, bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""),
    ("utf-16-be", b""), ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", codecs.BOM_UTF32_BE),
    ("utf-32-le", b""),
])
def test_sidecars_are_read_and_written_back_in_their_encoding(photo, codec, bom):
    side = photo.with_name("photo.jpg.xmp")
    declared = f'<?xml version="1.0" encoding="{codec[:6].upper()}"?>\n'
    side.write_bytes(bom + (declared + SIDECAR).encode(codec))
    assert decode_sidecar(side.read_bytes())[1:] == (codec, bom)
    write_sidecar(photo, ["#teddybear", "#café"])
    data = side.read_bytes()
    assert data.startswith(bom + declared.encode(codec))
    text = data[len(bom):].decode(codec)
    assert keywords(text) == ["holiday", "teddybear", "café"] and text.endswith(AFTER)


def test_a_latin1_sidecar_stays_latin1(photo):
    side = photo.with_name("photo.jpg.xmp")
    side.write_bytes(('<?xml version="1.0" encoding="ISO-8859-1"?>\n' + SIDECAR.replace("holiday", "été"))
                     .encode("latin-1", errors="xmlcharrefreplace"))
    write_sidecar(photo, ["#teddybear", "#🐻"])
    text = side.read_bytes().decode("latin-1")
    assert keywords(text) == ["été", "teddybear", "🐻"] and "&#128059;" in text


def test_undecodable_or_unknown_encodings_are_refused(photo):
    side = photo.with_name("photo.jpg.xmp")
    side.write_bytes(b"<x:xmpmeta \xff\xfe\xfa/>")
    with pytest.raises(ValueError, match="utf-8"):
        write_sidecar(photo, ["#x"])
    side.write_bytes(b'<?xml version="1.0" encoding="no-such"?><a/>')
    with pytest.raises(ValueError, match="no-such"):
        write_sidecar(photo, ["#x"])


def test_read_only_sidecar_is_left_alone(photo):
    side = photo.with_name("photo.jpg.xmp")
    side.write_text(SIDECAR, encoding="utf-8")
    side.chmod(0o444)  # tests may run as root, where only the mode bits say read-only
    before = side.stat()
    with pytest.raises(SidecarReadOnly, match="read-only") as exc:
        write_sidecar(photo, ["#teddybear"])
    assert isinstance(exc.value, PermissionError)
    after = side.stat()
    assert side.read_text(encoding="utf-8") == SIDECAR
    assert (after.st_ino, stat.S_IMODE(after.st_mode), after.st_mtime_ns) == (
        before.st_ino, 0o444, before.st_mtime_ns)
    # nothing to add: no complaint, nothing written
    assert write_sidecar(photo, ["#holiday"]) == side
    assert not [p for p in photo.parent.iterdir() if p.name.endswith(".tmp")]


def test_mode_is_kept_and_unchanged_files_are_not_rewritten(photo):
    side = photo.with_name("photo.jpg.xmp")
    side.write_text(SIDECAR, encoding="utf-8")
    side.chmod(0o640)
    write_sidecar(photo, ["#teddybear"])
    assert stat.S_IMODE(side.stat().st_mode) == 0o640
    st = side.stat()
    write_sidecar(photo, ["#teddybear"])
    assert (side.stat().st_ino, side.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_new_sidecar_gets_the_umask_mode(photo):
    old = os.umask(0o027)
    try:
        side = write_sidecar(photo, ["#teddybear"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(side.stat().st_mode) == 0o640
    assert keywords(side.read_text(encoding="utf-8")) == ["teddybear"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_symlinked_sidecar_updates_the_target(photo, tmp_path):
    store = tmp_path / "catalog"
    store.mkdir()
    real = store / "photo.jpg.xmp"
    real.write_text(SIDECAR, encoding="utf-8")
    real.chmod(0o600)
    link = photo.with_name("photo.jpg.xmp")
    link.symlink_to(os.path.relpath(real, link.parent))
    assert write_sidecar(photo, ["#teddybear"]) == link
    assert link.is_symlink() and link.resolve() == real
    assert keywords(real.read_text(encoding="utf-8")) == ["holiday", "teddybear"]
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert not [p for d in (store, photo.parent) for p in d.iterdir() if p.name.endswith(".tmp")]
    # a read-only target behind a link is left alone too
    real.chmod(0o444)
    with pytest.raises(SidecarReadOnly):
        write_sidecar(photo, ["#sunset"])
    assert link.is_symlink() and "sunset" not in real.read_text(encoding="utf-8")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_dangling_link_creates_its_target(photo, tmp_path):
    (tmp_path / "catalog").mkdir()
    link = photo.with_name("photo.xmp")
    link.symlink_to(tmp_path / "catalog" / "photo.xmp")
    assert write_sidecar(photo, ["#teddybear"]) == link
    assert link.is_symlink() and keywords(link.read_text(encoding="utf-8")) == ["teddybear"]
    assert not photo.with_name("photo.jpg.xmp").exists()


def test_an_existing_lightroom_sidecar_is_updated(photo):
    lr = photo.with_name("photo.xmp")
    lr.write_text(SIDECAR, encoding="utf-8")
    assert write_sidecar(photo, ["#teddybear"]) == lr
    assert not photo.with_name("photo.jpg.xmp").exists()
    assert keywords(lr.read_text(encoding="utf-8")) == ["holiday", "teddybear"]


def test_an_existing_darktable_sidecar_is_updated_whatever_the_setting(photo):
    dt = photo.with_name("photo.jpg.xmp")
    dt.write_text(SIDECAR, encoding="utf-8")
    assert write_sidecar(photo, ["#teddybear"], style="replace") == dt
    assert not photo.with_name("photo.xmp").exists()


def test_naming_of_new_sidecars_and_preference_when_both_exist(photo):
    assert find_sidecar(photo) == photo.with_name("photo.jpg.xmp")
    assert find_sidecar(photo, "replace") == photo.with_name("photo.xmp")
    assert write_sidecar(photo, ["#a"], style="replace") == photo.with_name("photo.xmp")
    write_sidecar(photo.with_name("other.jpg"), ["#a"])
    assert photo.with_name("other.jpg.xmp").exists()
    photo.with_name("photo.jpg.xmp").write_text(SIDECAR, encoding="utf-8")
    assert find_sidecar(photo, "append") == photo.with_name("photo.jpg.xmp")
    assert find_sidecar(photo, "replace") == photo.with_name("photo.xmp")


def test_an_upper_case_sidecar_is_found(tmp_path):
    photo = tmp_path / "IMG_1.CR2"
    photo.write_bytes(b"raw")
    upper = tmp_path / "IMG_1.XMP"
    upper.write_text(SIDECAR, encoding="utf-8")
    if (tmp_path / "IMG_1.xmp").exists() and not os.path.samefile(tmp_path / "IMG_1.xmp", upper):
        pytest.skip("unexpected file system")
    assert os.path.samefile(write_sidecar(photo, ["#teddybear"]), upper)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IMG_1.CR2", "IMG_1.XMP"]


# -- the callers: `hashlens export --format xmp` and the watcher's auto-approve ------------

def _export_args(tmp_path, paths, **kw):
    return argparse.Namespace(paths=[str(p) for p in paths], format="xmp", output=None,
                              with_caption=False, library=str(tmp_path / "lib"), **kw)


@pytest.fixture
def tagged(tmp_path):
    from desktop_app.library.store import TagLibrary
    from desktop_app.pipeline import Pipeline
    from tests.ui.fakes import FakeCaptioner, make_photos

    photos = make_photos(tmp_path / "photos", 2)
    lib = TagLibrary.open(tmp_path / "lib")
    pipe = Pipeline(captioner=FakeCaptioner(), library=lib)
    list(pipe.tag_paths(photos))
    for p in photos:
        pipe.feedback(p, approve=["#teddybear"])
    lib.close()
    return photos


def test_export_sidecar_name_flag(tagged, tmp_path, capsys):
    from desktop_app.cli import main

    lib = ["--library", str(tmp_path / "lib")]
    assert main(["export", str(tagged[0]), "--format", "xmp", "--sidecar-name", "replace", *lib]) == 0
    assert capsys.readouterr().out.strip() == str(tagged[0].with_suffix(".xmp"))
    assert not tagged[0].with_name(tagged[0].name + ".xmp").exists()
    assert main(["export", str(tagged[0]), "--format", "xmp", *lib]) == 0  # the existing one
    assert capsys.readouterr().out.strip() == str(tagged[0].with_suffix(".xmp"))
    assert not tagged[0].with_name(tagged[0].name + ".xmp").exists()


def test_export_reports_a_read_only_sidecar_and_goes_on(tagged, tmp_path, capsys):
    from desktop_app.export.run import run_export

    locked = tagged[0].with_name(tagged[0].name + ".xmp")
    locked.write_text(SIDECAR, encoding="utf-8")
    locked.chmod(0o444)
    assert run_export(_export_args(tmp_path, tagged, sidecar_name="append")) == 1
    out, err = capsys.readouterr()
    assert f"cannot write the sidecar of {tagged[0]}" in err and "read-only" in err
    assert locked.read_text(encoding="utf-8") == SIDECAR and stat.S_IMODE(locked.stat().st_mode) == 0o444
    assert out.strip() == str(tagged[1].with_name(tagged[1].name + ".xmp"))  # the next one written


def _finish(path, tag, **options):
    """WatchService._finish (auto-approve, then the sidecar) on one photo, without threads."""
    from desktop_app.watch.service import WatchOptions, WatchService

    fake = SimpleNamespace(
        options=WatchOptions(auto_approve=0.5, write_xmp=True, **options),
        pipeline=SimpleNamespace(decide=lambda *a, **k: {}))
    res = SimpleNamespace(path=str(path), content_hash="h", hashtags=[SimpleNamespace(tag=tag, score=0.9)])
    return WatchService._finish(fake, res)


def test_watcher_follows_the_naming_setting_and_reports_read_only(photo):
    lr = photo.with_name("photo.xmp")
    out = _finish(photo, "#teddybear", sidecar_name="replace")
    assert out.sidecar == str(lr) and out.error is None
    lr.chmod(0o444)
    out = _finish(photo, "#teddybear")  # already there: nothing to write, no complaint
    assert out.sidecar == str(lr) and out.error is None
    out = _finish(photo, "#sunset")
    assert out.sidecar is None and "read-only" in out.error and out.approved == ("#sunset",)
    assert "sunset" not in lr.read_text(encoding="utf-8")
    assert not photo.with_name("photo.jpg.xmp").exists()


def test_settings_carry_the_sidecar_name(tmp_path):
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QSettings

    from desktop_app.ui.settings import AppSettings, SettingsStore
    from desktop_app.ui.watching import watch_options

    assert AppSettings().sidecar_name == "append"
    assert AppSettings(sidecar_name="bogus").validated().sidecar_name == "append"
    store = SettingsStore(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    store.save(AppSettings(sidecar_name="replace"))
    loaded = store.load()
    assert loaded.sidecar_name == "replace"
    assert watch_options(loaded).sidecar_name == "replace"


def test_settings_dialog_offers_the_sidecar_name(qtbot):
    from desktop_app.ui.settings import AppSettings, SettingsDialog

    dlg = SettingsDialog(AppSettings(sidecar_name="replace"))
    qtbot.addWidget(dlg)
    assert dlg.sidecar_name.currentText() == "photo.xmp (Lightroom)"
    assert dlg.value().sidecar_name == "replace"
    dlg.sidecar_name.setCurrentIndex(dlg.sidecar_name.findData("append"))
    assert dlg.value().sidecar_name == "append"
