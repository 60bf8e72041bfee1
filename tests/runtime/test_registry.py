"""The model registry: every shipped model file is listed once and checked before use."""

from __future__ import annotations

import shutil

import pytest

from desktop_app import fingerprint
from desktop_app.errors import ModelFileError
from desktop_app.paths import model_assets_dir
from desktop_app.runtime import registry

MODEL_SUFFIXES = {".tflite", ".h5", ".npz", ".onnx", ".pb", ".bin"}


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A copy of model_assets/ that the app uses instead of the real one."""
    copy = tmp_path / "model_assets"
    shutil.copytree(model_assets_dir(), copy)
    monkeypatch.setattr(registry, "model_assets_dir", lambda: copy)
    registry._shipped.cache_clear()
    fingerprint._stable.clear()
    yield copy
    registry._shipped.cache_clear()
    fingerprint._stable.clear()


def test_every_shipped_model_file_is_listed_once_and_matches():
    entries = registry.read_registry()
    files = [e.file for e in entries.values()]
    assert len(files) == len(set(files))
    on_disk = {p.relative_to(model_assets_dir()).as_posix()
               for p in model_assets_dir().rglob("*") if p.suffix in MODEL_SUFFIXES}
    assert on_disk == set(files)
    for e in entries.values():
        assert registry.verify_file(e).is_file()
        assert e.source and e.licence and e.role in ("runtime", "source")
    assert {"encoder", "tag_detector", "captioner_decoder"} <= {
        n for n, e in entries.items() if e.role == "runtime"}


def test_the_registry_agrees_with_the_bundle_checksums():
    import json

    sums = json.loads((model_assets_dir() / "captioner" / "checksums.json").read_text())
    assert registry.shipped_entry("captioner_decoder").sha256 == sums["decoder.npz"]


def test_a_changed_model_file_is_refused_with_its_name(assets):
    path = assets / registry.shipped_entry("encoder").file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: same size, other content
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"mobilenet_v1_imagenet\.tflite .* does not match its checksum"):
        registry.verified_path("encoder")
    from desktop_app.captioning import load_captioner

    with pytest.raises(ModelFileError, match="reinstall hashlens"):
        load_captioner()


def test_a_missing_or_truncated_model_file_is_named(assets):
    entry = registry.shipped_entry("tag_detector")
    path = assets / entry.file
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match=r"tag_detector\.tflite .* is damaged: 1000 bytes"):
        registry.verified_path("tag_detector")
    path.unlink()
    with pytest.raises(ModelFileError, match=r"tag_detector\.tflite .* is missing"):
        registry.verified_path("tag_detector")


def test_a_damaged_or_missing_registry_is_a_clear_error(assets):
    (assets / "registry.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="registry .* is damaged"):
        registry.verified_path("encoder")
    registry._shipped.cache_clear()
    (assets / "registry.json").unlink()
    with pytest.raises(ModelFileError, match="registry .* is missing"):
        registry.verified_path("encoder")


def test_a_verified_file_is_hashed_once_until_it_changes(assets, monkeypatch):
    calls = []
    real = fingerprint.content_hash
    monkeypatch.setattr(fingerprint, "content_hash", lambda p: calls.append(p) or real(p))
    registry.verified_path("tag_detector")
    registry.verified_path("tag_detector")
    assert len(calls) == 1


def test_a_pip_install_carries_every_runtime_model_and_the_notices():
    """pyproject's data-files (what `pip install hashlens` puts under share/hashlens) list every
    file tagging loads, and every file they list exists."""
    import tomllib

    root = model_assets_dir().parent
    data_files = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    listed = {pattern for patterns in data_files.values() for pattern in patterns}
    for pattern in listed:
        assert list(root.glob(pattern)), pattern
    for e in registry.read_registry().values():
        assert (f"model_assets/{e.file}" in listed) == (e.role == "runtime"), e.file
    assert {"LICENSE", "THIRD_PARTY_NOTICES.md", "model_assets/registry.json"} <= listed
