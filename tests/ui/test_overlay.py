"""Attention overlay: pure functions, no Qt needed (except the QImage conversion)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop_app.ui.overlay import attention_overlay, combine_rows, to_qimage, upsample_weights


def test_upsample_is_smooth_normalised_and_sized():
    w = np.zeros((7, 7))
    w[3, 3] = 1.0
    up = upsample_weights(w, (140, 70))
    assert up.shape == (70, 140)
    assert up.max() == pytest.approx(1.0, abs=0.05) and up.min() >= 0.0
    assert np.unravel_index(up.argmax(), up.shape) == pytest.approx((35, 70), abs=6)
    # smooth: no jump bigger than a fraction of the range between neighbouring pixels
    assert np.abs(np.diff(up, axis=1)).max() < 0.2


def test_overlay_lightens_where_attended_and_darkens_elsewhere():
    img = Image.new("RGB", (210, 210), (128, 128, 128))
    w = np.zeros((7, 7))
    w[0, 6] = 1.0  # top right
    out = np.asarray(attention_overlay(img, w)).astype(int)
    assert out.shape == (210, 210, 3)
    assert out[10, 200].mean() > 128  # attended: lighter than the photo
    assert out[200, 10].mean() < 50  # not attended: dark
    assert np.asarray(attention_overlay(np.asarray(img), w)).shape == (210, 210, 3)


def test_overlay_of_flat_or_empty_weights():
    img = Image.new("RGB", (20, 10), (100, 100, 100))
    zero = np.asarray(attention_overlay(img, np.zeros((7, 7))))
    assert zero.max() < 40  # nothing attended: all dark
    with pytest.raises(ValueError):
        attention_overlay(img, np.zeros(49))


def test_combine_rows():
    att = np.eye(49, dtype=np.float32)[:3]
    m = combine_rows(att, [0, 1], (7, 7))
    assert m.shape == (7, 7) and m[0, 0] == m[0, 1] == 0.5
    assert combine_rows(att, [], (7, 7)) is None
    assert combine_rows(att, [9], (7, 7)) is None


def test_to_qimage(qapp):
    q = to_qimage(Image.new("RGB", (5, 4), (255, 0, 0)))
    assert (q.width(), q.height()) == (5, 4)
    assert q.pixelColor(2, 2).red() == 255
