"""Fixtures for the detector tests: the shipped sample photos, framed for each detector."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from desktop_app.detection import frame_photo, load_face_detector, load_object_detector
from desktop_app.paths import resources_dir


def sample(name: str) -> Image.Image:
    """A shipped sample photo: astronaut (a person, her face), chelsea (a cat), coffee (a cup)."""
    return Image.open(resources_dir() / "samples" / f"{name}.jpg").convert("RGB")


def detect(detector, photos: list[Image.Image]) -> list:
    framed = [frame_photo(p, detector.input_size) for p in photos]
    return detector.detect_batch(np.stack([f[0] for f in framed]), [f[1] for f in framed])


def centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


@pytest.fixture(scope="session")
def objects():
    return load_object_detector()


@pytest.fixture(scope="session")
def faces():
    return load_face_detector()
