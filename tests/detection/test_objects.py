"""The COCO object detector on real photos: what it finds, where, and how it fails cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.detection import COCO_LABELS, ObjectDetector, load_object_detector
from desktop_app.detection.objects import grid_centres

from .conftest import centre, detect, sample


def test_the_cat_photo_gets_a_cat_with_its_box_around_the_cat(objects):
    (found,) = detect(objects, [sample("chelsea")])
    cats = [d for d in found if d.label == "cat"]
    assert cats and cats[0].kind == "object" and 0.5 <= cats[0].score <= 1
    x0, y0, x1, y1 = cats[0].box
    assert (x1 - x0) * (y1 - y0) > 0.5  # the cat fills the photo
    assert 0.35 < centre(cats[0].box)[0] < 0.65
    assert not {d.label for d in found} & {"dog", "person"}


def test_the_coffee_photo_gets_a_cup_where_the_cup_is(objects):
    (found,) = detect(objects, [sample("coffee")])
    assert [d.label for d in found][:1] == ["cup"]
    cx, cy = centre(found[0].box)
    assert 0.35 < cx < 0.65 and 0.2 < cy < 0.55  # the cup, not the saucer's rim or the table


def test_the_astronaut_is_a_person(objects):
    (found,) = detect(objects, [sample("astronaut")])
    person = next(d for d in found if d.label == "person")
    assert person.score > 0.6 and person.box[0] < 0.1 and person.box[3] > 0.9


def test_a_photo_wider_than_4_3_gets_its_boxes_on_the_photo(objects, faces):
    """The astronaut cropped to 16:9 (her head and shoulders) is padded to 4:3 for the
    detectors: her boxes come back in the cropped photo's own fractions."""
    wide = sample("astronaut").crop((0, 0, 512, 288))
    (found,) = detect(objects, [wide])
    person = next(d for d in found if d.label == "person")
    assert person.box[3] > 0.9 and all(0 <= v <= 1 for v in person.box)
    (face,) = detect(faces, [wide])[0]
    cx, cy = centre(face.box)  # the face spans y 72..179 of the 288 rows
    assert 0.35 < cx < 0.55 and 0.3 < cy < 0.55


def test_a_batch_finds_what_each_photo_finds_alone(objects):
    photos = [sample(n) for n in ("astronaut", "chelsea", "coffee")]
    together = detect(objects, photos)
    assert together == [detect(objects, [p])[0] for p in photos]


def test_an_empty_batch_and_a_blank_photo_find_nothing(objects):
    s = objects.input_size
    assert objects.detect_batch(np.zeros((0, s, s, 3), np.uint8)) == []
    assert objects.detect_batch(np.zeros((2, s, s, 3), np.uint8)) == [[], []]


def test_photos_of_the_wrong_size_are_refused_with_the_size_it_needs(objects):
    with pytest.raises(ValueError, match=rf"\(N, {objects.input_size}, {objects.input_size}, 3\) uint8"):
        objects.detect_batch(np.zeros((1, 224, 224, 3), np.uint8))
    with pytest.raises(ValueError, match="2 photos but 1 fills"):
        s = objects.input_size
        objects.detect_batch(np.zeros((2, s, s, 3), np.uint8), [(1.0, 1.0)])


def test_the_detector_is_loaded_once(objects):
    assert load_object_detector() is load_object_detector()
    assert objects.input_size == 320 and len(objects.labels) == 80
    assert {"tennis racket", "dining table", "tv", "cell phone"} <= set(COCO_LABELS)


class FakeModel:
    """Stands in for the .tflite: returns the scores and regression it is given."""

    def __init__(self, size: int, scores: np.ndarray, regression: np.ndarray):
        self.inputs = {"pixels": ((-1, size, size, 3), np.dtype(np.uint8))}
        self.out = {"scores": scores[None], "regression": regression[None]}

    def run(self, pixels):
        return self.out


def _one_cell_model(size: int, cell: int, scores: dict[str, float], sides: tuple[int, ...]):
    cells = len(grid_centres(size)[0])
    s = np.zeros((cells, 80), np.float32)
    for label, v in scores.items():
        s[cell, COCO_LABELS.index(label)] = v
    reg = np.full((cells, 44), -20.0, np.float32)
    for side, bin_ in enumerate(sides):  # all the distribution's mass on one bin per side
        reg[cell, side * 11 + bin_] = 20.0
    return FakeModel(size, s, reg)


def test_gfl_boxes_are_measured_from_the_cell_centre_in_strides():
    size = 320
    centres, strides = grid_centres(size)
    cell = int(np.flatnonzero((strides == 16) & (centres[:, 0] == 168) & (centres[:, 1] == 104))[0])
    det = ObjectDetector(_one_cell_model(size, cell, {"giraffe": 0.9}, (2, 1, 3, 4)))
    (found,) = det.detect_batch(np.zeros((1, size, size, 3), np.uint8))
    assert [d.label for d in found] == ["giraffe"]
    expected = np.array([168 - 32, 104 - 16, 168 + 48, 104 + 64]) / size
    np.testing.assert_allclose(found[0].box, expected, atol=1e-6)


def test_in_one_place_only_the_likeliest_animal_is_reported():
    """A dog that also scores as a cat is a dog; other classes in the same place stay."""
    det = ObjectDetector(_one_cell_model(320, 500, {"dog": 0.7, "cat": 0.65, "frisbee": 0.6},
                                         (1, 1, 1, 1)))
    (found,) = det.detect_batch(np.zeros((1, 320, 320, 3), np.uint8))
    assert sorted(d.label for d in found) == ["dog", "frisbee"]


def test_thresholds_are_per_class():
    model = _one_cell_model(320, 500, {"cow": 0.7, "cup": 0.7}, (1, 1, 1, 1))
    (found,) = ObjectDetector(model).detect_batch(np.zeros((1, 320, 320, 3), np.uint8))
    assert [d.label for d in found] == ["cup"]  # a cow needs 0.75: dogs in grass score 0.7
    (found,) = ObjectDetector(model, thresholds={"cow": 0.6}).detect_batch(
        np.zeros((1, 320, 320, 3), np.uint8))
    assert sorted(d.label for d in found) == ["cow", "cup"]
    with pytest.raises(ValueError, match="unicorn"):
        ObjectDetector(model, thresholds={"unicorn": 0.5})
