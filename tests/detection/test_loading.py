"""The detectors load only through the model registry: a damaged file says so and which."""

from __future__ import annotations

import shutil

import pytest

from desktop_app import detection, fingerprint
from desktop_app.errors import ModelFileError
from desktop_app.paths import model_assets_dir
from desktop_app.runtime import registry


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A copy of model_assets/ the app uses instead of the real one; fresh detector caches."""
    copy = tmp_path / "model_assets"
    shutil.copytree(model_assets_dir(), copy)
    monkeypatch.setattr(registry, "model_assets_dir", lambda: copy)
    caches = (registry._shipped, detection._objects, detection._faces)
    for c in caches:
        c.cache_clear()
    fingerprint._stable.clear()
    yield copy
    for c in caches:
        c.cache_clear()
    fingerprint._stable.clear()


def test_a_truncated_object_model_gives_the_registry_error(assets):
    path = assets / "detectors" / "objects.tflite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=r"detectors/objects\.tflite .* is damaged.*reinstall"):
        detection.load_object_detector()


def test_a_changed_face_model_gives_the_registry_error(assets):
    path = assets / "detectors" / "faces.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"faces\.tflite .* does not match its checksum"):
        detection.load_face_detector()


def test_a_missing_model_says_so(assets):
    (assets / "detectors" / "objects.tflite").unlink()
    with pytest.raises(ModelFileError, match="missing"):
        detection.load_object_detector()
