"""The face detector: boxes on faces, none kept on animals, nothing else about a face."""

from __future__ import annotations

import dataclasses

import numpy as np

from desktop_app.detection import faces_on_people, load_face_detector
from desktop_app.results import Detection

from .conftest import centre, detect, sample


def test_the_astronaut_gets_her_face_and_only_a_box(faces):
    (found,) = detect(faces, [sample("astronaut")])
    assert len(found) == 1
    face = found[0]
    assert face.kind == "face" and face.label == "face" and face.score > 0.75
    cx, cy = centre(face.box)
    assert 0.35 < cx < 0.55 and 0.15 < cy < 0.35
    # boxes only: no landmarks, identity, age or gender travel with a face
    assert [f.name for f in dataclasses.fields(face)] == ["kind", "label", "score", "box"]


def test_a_face_on_a_person_is_kept_and_one_on_a_cat_is_dropped(faces, objects):
    photos = [sample("astronaut"), sample("chelsea")]
    found = [o + f for o, f in zip(detect(objects, photos), detect(faces, photos), strict=True)]
    astronaut, cat = (faces_on_people(d) for d in found)
    assert any(d.kind == "face" for d in found[1])  # BlazeFace does see the cat's face
    assert [d.kind for d in astronaut].count("face") == 1
    assert [d.label for d in cat] == ["cat"]


def test_faces_on_people_keeps_objects_and_needs_a_person_around_the_face():
    person = Detection("object", "person", 0.8, (0.1, 0.1, 0.5, 0.9))
    inside = Detection("face", "face", 0.9, (0.2, 0.15, 0.3, 0.3))
    outside = Detection("face", "face", 0.9, (0.7, 0.1, 0.8, 0.2))
    dog = Detection("object", "dog", 0.7, (0.6, 0.0, 0.9, 0.5))
    assert faces_on_people([person, inside, outside, dog]) == [person, inside, dog]
    assert faces_on_people([inside]) == []


def test_empty_and_blank_batches(faces):
    assert faces.detect_batch(np.zeros((0, 256, 256, 3), np.uint8)) == []
    assert faces.detect_batch(np.zeros((1, 256, 256, 3), np.uint8)) == [[]]
    assert load_face_detector() is load_face_detector() and faces.input_size == 256
