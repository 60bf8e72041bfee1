"""The `hashlens` command: help, JSON lines, exit codes, and no Qt/TensorFlow where not needed."""

import json
import subprocess
import sys

import pytest
from PIL import Image

from desktop_app.cli import build_parser, main

SUBCOMMANDS = ("tag", "feedback", "watch", "library", "export", "train", "evaluate")


def test_help_documents_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in text
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert "usage: hashlens " + name in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["tag"])
    assert exit_.value.code == 2
    assert main(["tag", "--top", "99", "x.jpg"]) == 2
    assert "--top" in capsys.readouterr().err


def test_cli_imports_neither_qt_nor_tensorflow():
    code = (
        "import sys\n"
        "from desktop_app.cli import build_parser, main\n"
        "build_parser().format_help()\n"
        "import desktop_app.pipeline, desktop_app.tagging, desktop_app.captioning\n"
        "bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tag_on_a_folder_without_photos_says_so_at_once(tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    code = (
        "import sys\n"
        "from desktop_app.cli import main\n"
        f"rc = main(['tag', '--json', '--no-library', {str(tmp_path)!r}])\n"
        "assert 'tensorflow' not in sys.modules  # the model was never loaded\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert f"no photos found in {tmp_path}" in proc.stderr


@pytest.fixture(scope="module")
def random_bundle(tmp_path_factory):
    """A bundle with untrained weights of the real shapes: exercises the real encoder path."""
    pytest.importorskip("tensorflow")
    import keras

    from desktop_app.captioning.bundle import model_weights, write_bundle
    from desktop_app.captioning.config import DecoderConfig
    from desktop_app.captioning.decoder import build_decoder
    from desktop_app.captioning.vocabulary import Vocabulary

    vocab = Vocabulary("a dog runs on the grass".split())
    cfg = DecoderConfig(vocab_size=len(vocab), embed_dim=16, lstm_units=32, attention_units=16, max_len=6)
    keras.utils.set_random_seed(3)
    return write_bundle(tmp_path_factory.mktemp("m") / "bundle", cfg, vocab,
                        model_weights(build_decoder(cfg)), meta={"model_version": "random"})


def test_tag_json_on_a_folder_with_a_good_and_a_broken_photo(tmp_path, random_bundle, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (300, 200), (20, 120, 20)).save(folder / "good.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    code = main(["tag", "--json", "--no-library", "--model", str(random_bundle), str(folder)])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert code == 1 and len(lines) == 2
    rows = {json.loads(x)["path"].rsplit("/", 1)[1]: json.loads(x) for x in lines}
    assert rows["broken.jpg"]["error"] and "broken.jpg" in rows["broken.jpg"]["error"]
    good = rows["good.jpg"]
    assert good["error"] is None and good["caption"] and good["tokens"]
    assert set(good) >= {"path", "caption", "tokens", "hashtags", "error"}
    for tag in good["hashtags"]:
        assert tag["tag"].startswith("#") and 0.0 <= tag["score"] <= 1.0 and tag["source"]
    assert "photos" in captured.err  # progress goes to stderr, never stdout


def test_broken_model_bundle_is_a_clear_error(tmp_path, capsys):
    Image.new("RGB", (10, 10)).save(tmp_path / "p.jpg")
    (tmp_path / "model").mkdir()
    assert main(["tag", "--no-library", "--model", str(tmp_path / "model"), str(tmp_path / "p.jpg")]) == 1
    assert "incomplete" in capsys.readouterr().err


def test_parser_builds_without_side_effects():
    assert build_parser().prog == "hashlens"


def test_tagging_a_real_photo_never_imports_tensorflow(tmp_path):
    """The shipped model runs on LiteRT: `hashlens tag` with the real encoder loads no TensorFlow."""
    from desktop_app.paths import resources_dir

    code = (
        "import sys, json\n"
        "from desktop_app.cli import main\n"
        f"rc = main(['tag', '--json', '--no-library', {str(resources_dir() / 'samples' / 'chelsea.jpg')!r}])\n"
        "bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**__import__("os").environ, "HASHLENS_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["error"] is None and row["hashtags"]
    assert "#cat" in {t["tag"] for t in row["hashtags"]}  # the ImageNet classifier's tabby, through LiteRT
    assert "XNNPACK" not in proc.stderr  # LiteRT's start-up line is not shown to users


def test_version_says_what_runs_the_model_and_where_the_licences_are(capsys, monkeypatch):
    from desktop_app.paths import notices_path

    monkeypatch.delenv("HASHLENS_RUNTIME", raising=False)
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hashlens ") and "runs on: LiteRT" in out and "CPU" in out
    assert str(notices_path()) in out and notices_path().is_file()
    monkeypatch.setenv("HASHLENS_RUNTIME", "tensorflow")
    assert main(["--version"]) == 0
    assert "runs on: TensorFlow" in capsys.readouterr().out


def test_train_without_tensorflow_says_how_to_get_it(tmp_path):
    """As in the desktop bundle or a plain `pip install hashlens`: a clear error, no traceback."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # as if not installed\n"
        "from desktop_app.cli import main\n"
        f"sys.exit(main(['train', '--data', {str(tmp_path)!r}, '--out', {str(tmp_path / 'm')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "training needs TensorFlow" in proc.stderr and "hashlens[train]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hashlens_with_paths_opens_the_window_with_them(tmp_path, monkeypatch):
    import desktop_app.ui.app as app
    from desktop_app.cli import gui_paths

    (tmp_path / "a.jpg").write_bytes(b"x")
    assert gui_paths([str(tmp_path / "a.jpg"), str(tmp_path)]) == [str(tmp_path / "a.jpg"), str(tmp_path)]
    assert gui_paths(["-v", str(tmp_path)]) == [str(tmp_path)]
    assert gui_paths(["tag", str(tmp_path)]) is None and gui_paths([]) is None
    assert gui_paths(["tagg"]) is None  # a typo stays a usage error, not a photo
    opened = []
    monkeypatch.setattr(app, "run_gui", lambda argv=None, paths=None: opened.append(paths) or 0)
    assert main(["-v", str(tmp_path / "a.jpg"), str(tmp_path / "gone.jpg")]) == 0
    assert opened == [[str(tmp_path / "a.jpg")]]


def test_the_path_check_imports_no_qt():
    code = ("import sys; from desktop_app.cli import gui_paths; gui_paths(['.']); "
            "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_watch_names_a_failed_photo_from_an_earlier_run_and_counts_only_its_folders(tmp_path, capfd):
    import argparse
    import threading

    from desktop_app.library.store import TagLibrary
    from desktop_app.pipeline import Pipeline
    from desktop_app.watch.headless import run_watch
    from desktop_app.watch.queue import WatchQueue
    from desktop_app.watch.service import WatchOptions
    from tests.ui.fakes import FakeCaptioner

    folder, other = tmp_path / "camera", tmp_path / "other"
    folder.mkdir()
    lib = TagLibrary.open(tmp_path / "lib")
    q = WatchQueue(lib)
    for path in (folder / "old.jpg", other / "elsewhere.jpg"):
        q.add(str(path), 1, 1.0)
        q.fail(str(path), "cannot read it: truncated")
    stop = threading.Event()
    stop.set()  # start and stop at once: only the summary
    args = argparse.Namespace(folders=[str(folder)], model=None, library=None)
    assert run_watch(args, pipeline=Pipeline(captioner=FakeCaptioner(), library=lib), stop_event=stop,
                     options=WatchOptions()) == 0
    err = capfd.readouterr().err
    assert "0 queued, 1 failed; failed on an earlier run: " in err
    assert f"{folder / 'old.jpg'} (cannot read it: truncated)" in err
    assert "1 more in folders not watched now" in err and "elsewhere.jpg" not in err
    lib.close()
