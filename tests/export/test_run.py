"""`hashlens export` through run_export, with a real library and a fake captioner."""

from __future__ import annotations

import argparse
import csv
import io

import pytest

from desktop_app.cli import main
from desktop_app.library.store import TagLibrary
from desktop_app.pipeline import Pipeline
from tests.ui.fakes import FakeCaptioner, make_photos


@pytest.fixture
def tagged(tmp_path):
    """Two photos tagged into a library at tmp/lib; photo0 has decisions, photo1 none."""
    photos = make_photos(tmp_path / "photos", 2)
    lib = TagLibrary.open(tmp_path / "lib")
    pipe = Pipeline(captioner=FakeCaptioner(), library=lib)
    results = list(pipe.tag_paths(photos))
    pipe.feedback(photos[0], approve=["#teddybear"], reject=["#bench"], add=["#cosy"])
    lib.close()
    return tmp_path, photos, results


def args(tmp_path, paths, fmt, output=None, with_caption=False):
    return argparse.Namespace(paths=[str(p) for p in paths], format=fmt, output=output,
                              with_caption=with_caption, library=str(tmp_path / "lib"))


def test_instagram_to_stdout_has_a_caption_only_once_approved_or_written(tagged, capsys):
    from desktop_app.export.run import run_export
    from desktop_app.session.store import SavedPhoto, SessionStore

    tmp, photos, results = tagged
    assert run_export(args(tmp, photos[:1], "instagram", with_caption=True)) == 0
    out = capsys.readouterr()
    assert out.out == "#cosy #teddybear\n"  # the model's caption is not the user's
    assert "no caption approved or written" in out.err
    store = SessionStore.in_folder(tmp / "lib")  # as the window keeps it, beside the library
    store.save([SavedPhoto(str(photos[0]), 0, "approved", content_hash=results[0].content_hash,
                           caption="a bear on my bench", edited=True, caption_approved=True)])
    store.close()
    assert run_export(args(tmp, photos[:1], "instagram", with_caption=True)) == 0
    assert capsys.readouterr().out == "A bear on my bench.\n\n#cosy #teddybear\n"
    assert run_export(args(tmp, photos[:1], "instagram", with_caption=False)) == 0
    assert capsys.readouterr().out == "#cosy #teddybear\n"


def test_instagram_export_of_many_photos_is_one_named_block_each(tmp_path, capsys):
    from desktop_app.export.run import run_export

    photos = make_photos(tmp_path / "photos", 4)
    lib = TagLibrary.open(tmp_path / "lib")
    pipe = Pipeline(captioner=FakeCaptioner(), library=lib)
    list(pipe.tag_paths(photos))
    pipe.feedback(photos[0], approve=["#teddybear"])
    pipe.feedback(photos[2], approve=["#bench", "#teddybear"])
    pipe.feedback(photos[3], reject=["#bench"])
    lib.close()
    assert run_export(args(tmp_path, [tmp_path / "photos"], "instagram", with_caption=True)) == 0
    out = capsys.readouterr()
    assert out.out == "photo0.jpg\n#teddybear\n\nphoto2.jpg\n#bench #teddybear\n"
    assert "\n\n\n" not in out.out
    assert "photo1.jpg: no approved hashtags" in out.err and "photo3.jpg: no approved hashtags" in out.err


def test_csv_to_file_and_warnings(tagged, capsys):
    from desktop_app.export.run import run_export

    tmp, photos, _ = tagged
    target = tmp / "out.csv"
    assert run_export(args(tmp, [photos[0].parent], "csv", output=str(target))) == 0
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[1][0] == str(photos[0]) and rows[1][2] == "#cosy #teddybear"
    assert rows[2][0] == str(photos[1]) and rows[2][3] == "0"
    assert "no approved hashtags" in capsys.readouterr().err


def test_xmp_sidecars_next_to_photos(tagged, capsys):
    tmp, photos, _ = tagged
    assert main(["export", str(photos[0]), "--format", "xmp", "--library", str(tmp / "lib")]) == 0
    side = photos[0].with_name(photos[0].name + ".xmp")
    text = side.read_text(encoding="utf-8")
    assert "<rdf:li>teddybear</rdf:li>" in text and "<rdf:li>cosy</rdf:li>" in text
    assert "bench" not in text


def test_unknown_photo_is_reported(tmp_path, capsys):
    from desktop_app.export.run import run_export

    (photo,) = make_photos(tmp_path / "p", 1)
    TagLibrary.open(tmp_path / "lib").close()
    assert run_export(args(tmp_path, [photo], "txt")) == 1
    err = capsys.readouterr().err
    assert "not in the library" in err and "nothing to export" in err
