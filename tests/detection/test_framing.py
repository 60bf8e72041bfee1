"""Photos go on the detectors' square padded to at most 4:3; boxes come back to the photo."""

from __future__ import annotations

import numpy as np
from PIL import Image

from desktop_app.detection.framing import frame_photo, padded_size, to_photo


def test_photos_up_to_4_3_are_squashed_and_wider_ones_padded_to_4_3():
    assert padded_size(4000, 3000) == (4000, 3000)  # a phone photo: squashed as it is
    assert padded_size(3000, 4000) == (3000, 4000)
    assert padded_size(500, 500) == (500, 500)
    assert padded_size(1920, 1080) == (1920, 1440)  # 16:9 -> padded at the bottom
    assert padded_size(1080, 1920) == (1440, 1920)  # portrait 9:16 -> padded at the right


def test_the_padding_is_black_at_the_bottom_and_the_fill_says_how_much_is_photo():
    photo = Image.new("RGB", (1600, 900), (200, 100, 50))
    square, fill = frame_photo(photo, 320)
    assert square.shape == (320, 320, 3) and square.dtype == np.uint8
    assert fill == (1.0, 0.75)
    assert (square[:230] == (200, 100, 50)).all() and (square[250:] == 0).all()


def test_boxes_on_the_square_map_back_to_the_photo_clipped():
    boxes = np.array([[0.0, 0.0, 0.5, 0.75], [0.5, 0.6, 0.9, 0.9], [0.2, 0.8, 0.4, 0.9]])
    np.testing.assert_allclose(to_photo(boxes, (1.0, 0.75)),
                               [[0.0, 0.0, 0.5, 1.0], [0.5, 0.8, 0.9, 1.0], [0.2, 1.0, 0.4, 1.0]])
    np.testing.assert_allclose(to_photo(boxes, None), boxes)
