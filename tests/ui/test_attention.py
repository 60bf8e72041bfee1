"""Attention a user can see: a heat map per word with its peak and scale, and detector boxes
outlined for a hashtag (hand-made results: HashtagSuggestion.box_indices -> PhotoResult.detections)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop_app.results import Detection
from desktop_app.ui.canvas import BOX_COLOUR
from desktop_app.ui.overlay import attention_overlay, box_in, colour_scale, peak_point

from .fakes import peaked_attention
from .test_window import ready_window


def bump(cx: int, cy: int) -> np.ndarray:
    yy, xx = np.mgrid[0:7, 0:7]
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 1.5)


def test_the_peak_is_where_the_attention_is_highest():
    x, y = peak_point(bump(5, 1))
    assert x == pytest.approx(5.5 / 7, abs=0.05) and y == pytest.approx(1.5 / 7, abs=0.05)
    assert peak_point(np.ones((7, 7))) is None and peak_point(np.zeros((7, 7))) is None


def test_heat_runs_from_dark_and_cool_to_bright_and_warm():
    low, mid, high = colour_scale(np.array([0.0, 0.5, 1.0]))
    assert low.sum() < 100 and high.sum() > 600  # dark -> bright
    assert mid[0] > mid[2] and high[0] > 240 and high[1] > 240  # warm


def test_a_word_glows_where_it_was_looked_at_and_the_rest_recedes():
    photo = np.zeros((140, 140, 3), np.uint8)
    photo[..., 2] = 200  # a blue photo
    out = np.asarray(attention_overlay(photo, bump(5, 1))).astype(int)
    hot, cold = out[30, 110], out[120, 15]  # the peak cell / far from it
    assert hot.sum() > 450 and hot[0] > hot[2]  # bright and warm over blue
    assert cold.sum() < 200 and cold[2] < 200  # dimmed


def test_boxes_map_into_the_drawn_photo():
    assert box_in((10, 20, 200, 100), (0.25, 0.5, 0.75, 1.2)) == (60.0, 70.0, 100.0, 50.0)


def with_boxes(window, photos):
    it = ready_window(window, photos)
    res = it.result
    res.detections = (Detection("object", "teddy bear", 0.91, (0.1, 0.2, 0.6, 0.9)),
                      Detection("face", "face", 0.8, (0.7, 0.1, 0.9, 0.3)))
    res.hashtags[0].box_indices = (0,)  # #teddybear names the teddy bear
    window.detail.show_item(it)
    return it


def cyan_pixels(image) -> int:
    arr = np.asarray(Image.frombytes("RGBA", (image.width(), image.height()),
                                     bytes(image.convertToFormat(image.Format.Format_RGBA8888).constBits()))).astype(int)
    target = np.array([int(BOX_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(arr[..., :3] - target).sum(axis=-1) < 40).sum())


def test_a_hashtag_with_detector_boxes_outlines_them(window, photos, qtbot):
    with_boxes(window, photos)
    d, canvas = window.detail, window.detail.canvas
    window.resize(1280, 820)
    assert cyan_pixels(canvas.grab().toImage()) == 0
    d.chips.set_current(d.chips.index_of("#teddybear"))  # clicked / focused
    assert [b.label for b in canvas.boxes] == ["teddy bear 91%"]
    assert canvas.peak is not None and canvas.weights is not None  # its words' attention too
    assert cyan_pixels(canvas.grab().toImage()) > 200  # the outline is drawn
    assert "Outlined" in d.hint.text() and "teddy bear 91%" in d.hint.text()
    d.chips.set_current(d.chips.index_of("#bench"))  # no boxes
    assert canvas.boxes == []


def test_hovering_a_chip_shows_its_boxes_and_leaving_brings_back_the_pick(window, photos):
    with_boxes(window, photos)
    d = window.detail
    d.select_word(6)  # "wooden"
    d.chips.hovered.emit("#teddybear")
    assert [b.label for b in d.canvas.boxes] == ["teddy bear 91%"]
    d.chips.hovered.emit("")
    assert d.current_word == 6 and d.canvas.boxes == []


def test_a_caption_word_outlines_the_boxes_of_its_object(window, photos):
    it = with_boxes(window, photos)
    d = window.detail
    d.select_word(it.result.caption.tokens.index("bear"))  # #teddybear comes from it
    assert [b.label for b in d.canvas.boxes] == ["teddy bear 91%"]
    np.testing.assert_allclose(d.canvas.weights, it.result.caption.attention_map(2))
    assert peaked_attention(1).shape == (1, 49)
