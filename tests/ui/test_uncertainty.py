"""Honesty about uncertainty: caption confidence, unsure words, the low-confidence note, chip
tooltips in plain words, the status bar's device, and attention maps that are spread thin."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.pipeline import Pipeline
from desktop_app.results import LOW_CONFIDENCE, UNSURE_WORD, HashtagSuggestion
from desktop_app.session.model import ModelInfo
from desktop_app.session.photo import Status
from desktop_app.ui.chips import source_words, tooltip_for
from desktop_app.ui.detail import UNSURE_NOTE, caption_html
from desktop_app.ui.overlay import attention_overlay, focus, upsample_weights

from .fakes import CAPTION, FakeCaptioner, make_photos
from .test_window import drop

CONFIDENT = tuple(0.9 - 0.05 * i for i in range(len(CAPTION)))
SHAKY_BEAR = (0.9, 0.8, 0.1, 0.7, 0.6, 0.9, 0.5, 0.6)  # "bear" (index 2) at 10%
GUESS = (0.02,) * len(CAPTION)  # a low-confidence guess: confidence 2%


@pytest.fixture
def fake():
    return FakeCaptioner()


@pytest.fixture
def win(qtbot, fake, library, settings_store, tmp_path):
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    w = MainWindow(Pipeline(captioner=fake, library=library), SyncRunner(), settings_store,
                   ThumbnailCache(tmp_path / "thumbs"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def tag_one(win, fake, folder, probs, n=1):
    """Caption a new photo with these token probabilities and select it."""
    fake.probs = probs
    photo = make_photos(folder, n)[-1]
    drop(win, [photo])
    win.grid.select_row(win.model.row_of(photo))
    return win.current_item()


def test_low_confidence_note_appears_and_disappears_with_confidence(win, fake, tmp_path):
    d = win.detail
    sure = tag_one(win, fake, tmp_path / "a", CONFIDENT)
    assert sure.result.caption.confidence > LOW_CONFIDENCE
    assert not d.note.isVisibleTo(win)
    assert d.confidence.text() == f"confidence {sure.result.caption.confidence:.0%}"

    guess = tag_one(win, fake, tmp_path / "b", GUESS, n=2)
    assert guess.result.caption.confidence < LOW_CONFIDENCE
    assert d.note.isVisibleTo(win) and d.note.text() == UNSURE_NOTE
    assert "unsure about this photo" in d.note.text() and "people, animals and outdoor scenes" in d.note.text()
    assert d.confidence.text() == "confidence 2%"

    win.grid.select_row(win.model.row_of(sure.path))  # back to the confident photo
    assert not d.note.isVisibleTo(win)
    win.grid.select_row(win.model.row_of(guess.path))
    assert d.note.isVisibleTo(win)
    win.edit_caption("a teddy bear on a bench")  # the user vouched for the caption
    assert not d.note.isVisibleTo(win)
    assert d.confidence.text() == "edited" and "Caption edited" in d.hint.text()
    assert d.unsure() == set()


def test_confidence_exactly_at_the_threshold_is_not_low(win, fake, tmp_path):
    tag_one(win, fake, tmp_path / "a", (LOW_CONFIDENCE,) * len(CAPTION))
    assert not win.detail.note.isVisibleTo(win)


def test_unsure_words_are_marked_with_their_probability(win, fake, tmp_path):
    d = win.detail
    tag_one(win, fake, tmp_path / "a", SHAKY_BEAR)
    assert d.unsure() == {2}
    html = d.caption.text()
    bear = html[html.index('href="#w2"'):].split("</a>")[0]
    teddy = html[html.index('href="#w1"'):].split("</a>")[0]
    assert "font-style:italic" in bear and "font-style:italic" not in teddy
    assert "lighter words" in d.hint.text()
    assert "10%" in d.word_tip(2) and "unsure" in d.word_tip(2)
    assert "80%" in d.word_tip(1) and "unsure" not in d.word_tip(1)
    assert not d.note.isVisibleTo(win)  # confidence is fine overall
    d.caption.linkActivated.emit("#w2")  # still clickable, and highlighted when current
    assert d.current_word == 2 and "background:" in d.caption.text()
    # a caption hashtag from the unsure word says so in its tooltip
    tips = {c.tag: d.chips.tip(i) for i, c in enumerate(d.chips.chips)}
    assert "the model was unsure of “bear” (10%)" in tips["#teddybear"]
    assert "unsure" not in tips["#woodenbench"]


def test_caption_html_marks_unsure_words():
    html = caption_html(("a", "cat", "sits"), None, "#0000ff", unsure={1, 2}, unsure_colour="#8080ff",
                        muted={2})
    assert 'color:#8080ff; font-style:italic">cat</a>' in html
    assert 'color:#0000ff">a</a>' in html
    assert '<span style="font-style:italic">sits</span>' in html  # no map, still marked


def test_unsure_word_threshold_is_the_shared_one():
    from desktop_app import cli

    assert cli.LOW_CONFIDENCE == LOW_CONFIDENCE == 0.05 and UNSURE_WORD == 0.2


def sug(source, reason="", parts=None, words=(), idx=()):
    return HashtagSuggestion("#doglover", 0.47, source, idx, words, parts or {}, reason)


@pytest.mark.parametrize(("source", "reason", "words", "expected"), [
    ("caption", "", ("teddy", "bear"), "from the caption (“teddy bear”)"),
    ("caption", 'from the caption: "teddy bear"', ("teddy", "bear"), 'from the caption: "teddy bear"'),
    ("imagenet", 'from the image classifier: "tabby" (80%)', ("cat",), "the image classifier"),
    ("library", "you used this on 3 similar photos", (), "from your library"),
    ("popular", "a popular form of #dog (common in social media text); popularity 51% (medium)", ("dog",),
     "a popular form of #dog"),
    ("popular", "", ("dog",), "a popular form of #dog"),
    ("trending", "trending (your list), related to dog", (), "trending"),
    ("rule", "always added (your rule)", (), "one of your always-add tags"),
    ("you", "You added this tag.", (), "added by you"),
])
def test_chip_tooltip_says_the_source_in_plain_words(source, reason, words, expected):
    tip = tooltip_for(sug(source, reason, words=words))
    assert expected in tip and expected in source_words(sug(source, reason, words=words))
    assert tip.startswith("<b>#doglover</b> — score 47%")
    assert f"source: {source}" not in tip


def test_chip_tooltip_popularity_only_when_known():
    with_pop = tooltip_for(sug("popular", "a popular form of #dog (common in social media text)",
                               {"base": 0.9, "popularity": 0.51}))
    assert "popularity 51% (medium)" in with_pop and "how common the word is" in with_pop
    assert with_pop.count("popularity 51%") == 1  # not repeated from the reason
    assert "base +0.90" in with_pop and "popularity +" not in with_pop
    assert "popularity" not in tooltip_for(sug("library", "from your library", {"model": 0.3}))


def test_status_bar_names_the_captioner_in_plain_words(win):
    win.review._model_loaded(ModelInfo("sat-mobilenet-1", "LiteRT 2.3.0 · CPU, 2 threads", "Flickr8k"))
    assert win.device_label.text() == "Captioner: Flickr8k, CPU"
    tip = win.device_label.toolTip()
    assert "sat-mobilenet-1" in tip and "LiteRT 2.3.0" in tip and "no GPU needed" in tip
    win.review._model_loaded(ModelInfo("sat-mobilenet-1", "TensorFlow 2.21.0 · GPU (NVIDIA H200)", "COCO"))
    assert win.device_label.text() == "Captioner: COCO, GPU"
    assert "NVIDIA H200" in win.device_label.toolTip()


def test_the_shipped_bundle_says_what_it_was_trained_on():
    from desktop_app.session.model import trained_on

    assert trained_on(None) == "Flickr8k"


def test_photos_added_while_the_model_loads_say_so(win, tmp_path):
    win.review.model_state = "loading"  # as between start() and the worker's answer
    photos = make_photos(tmp_path / "p", 2)
    drop(win, photos)
    assert all(it.status == Status.QUEUED for it in win.model.items)
    assert win.progress_label.isVisibleTo(win)
    assert win.progress_label.text() == "Loading the captioner… (2 photos waiting)"
    assert win.progress_bar.maximum() == 0 and not win.cancel_button.isVisibleTo(win)  # busy; nothing to cancel
    win.review._model_loaded(ModelInfo("fake-1", "CPU (fake)"))
    assert all(it.status == Status.READY for it in win.model.items)
    assert not win.progress_label.isVisibleTo(win)


def test_model_failure_while_waiting_clears_the_busy_bar(win, tmp_path):
    win.review.model_state = "loading"
    drop(win, make_photos(tmp_path / "p", 1))
    win.review._model_failed(RuntimeError("no model bundle"))
    assert not win.progress_bar.isVisibleTo(win) and not win.progress_label.isVisibleTo(win)


def test_diffuse_attention_is_stretched_and_called_spread_thin(win, fake, tmp_path):
    # like the real interim model: the brightest cell only 1.5x the average
    rng = np.random.default_rng(0)
    diffuse = 1.0 + 0.5 * rng.random((7, 7))
    assert 1.0 < focus(diffuse) < 2.0
    up = upsample_weights(diffuse, (70, 70))
    assert up.min() == pytest.approx(0.0, abs=0.02) and up.max() == pytest.approx(1.0, abs=0.02)
    img = np.full((70, 70, 3), 128, np.uint8)
    out = np.asarray(attention_overlay(img, diffuse)).astype(int)
    assert out.max() - out.min() > 80  # visible, not a 5% dimming
    flat = np.asarray(attention_overlay(img, np.ones((7, 7)))).astype(int)
    assert flat.min() >= 128  # looked everywhere alike: nothing darkened
    assert focus(np.eye(7)) == pytest.approx(7.0)

    it = tag_one(win, fake, tmp_path / "a", CONFIDENT)
    d = win.detail
    it.result.caption.attention[1] = (diffuse / diffuse.sum()).ravel()
    d.select_word(1)
    assert "spread thin" in d.hint.text() and "teddy" in d.hint.text()
    d.select_word(2)  # the fake's peaked maps
    assert "spread thin" not in d.hint.text() and "where the model looked" in d.hint.text()


def test_hovering_a_word_shows_its_probability(win, fake, tmp_path, qtbot):
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    tag_one(win, fake, tmp_path / "a", SHAKY_BEAR)
    d = win.detail
    d._hovered("#w2")  # what QLabel.linkHovered says over "bear"
    event = QHelpEvent(QEvent.Type.ToolTip, QPoint(5, 5), d.caption.mapToGlobal(QPoint(5, 5)))
    QApplication.sendEvent(d.caption, event)
    qtbot.waitUntil(QToolTip.isVisible, timeout=2000)
    assert "10%" in QToolTip.text() and "unsure" in QToolTip.text()
    d._hovered("")  # left the word
    assert d._hover_word is None
