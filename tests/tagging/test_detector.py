"""The tag detector: tags read from the photo's features confirm, doubt and add to the caption's."""

from dataclasses import replace

import numpy as np
import pytest

from desktop_app.tagging import suggest_hashtags
from desktop_app.tagging.detector import TagDetector, TagDetectorError

from .conftest import make_caption

TAGS = [("dog",), ("beach",), ("shirt",), ("man",)]


def _detector(probs: dict[str, float]) -> tuple[TagDetector, np.ndarray]:
    """A 4-d detector whose output for the embedding (1, 0, 0, 0) is `probs`."""
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    w = np.zeros((4, len(TAGS)), dtype=np.float32)
    b = np.full(len(TAGS), -10.0, dtype=np.float32)
    for j, (word,) in enumerate(TAGS):
        w[0, j] = logit(probs.get(word, 0.01)) + 10.0
    det = TagDetector.from_arrays(TAGS, np.zeros(4, np.float32), np.ones(4, np.float32), w, b)
    return det, np.array([1.0, 0, 0, 0], dtype=np.float32)


def _with_embedding(text: str, emb: np.ndarray):
    return replace(make_caption(text), embedding=emb)


def test_the_detector_adds_a_tag_the_caption_missed():
    det, emb = _detector({"dog": 0.9, "beach": 0.7})
    tags = suggest_hashtags(_with_embedding("a dog runs outside", emb), detector=det)
    by_tag = {s.tag: s for s in tags}
    assert "#beach" in by_tag and by_tag["#beach"].source == "detector"
    assert "photos like this one" in by_tag["#beach"].reason
    assert tags[0].tag == "#dog" and tags[0].parts["detector"] == pytest.approx(0.9, abs=1e-4)


def test_a_caption_word_the_detector_doubts_drops_below_one_it_confirms():
    caption = "a man in a blue shirt"
    plain = suggest_hashtags(make_caption(caption), detector=False)
    det, emb = _detector({"man": 0.8, "shirt": 0.02})
    doubted = suggest_hashtags(_with_embedding(caption, emb), detector=det)
    order = [s.tag for s in doubted]
    assert order.index("#man") < order.index("#shirt")
    shirt = next(s for s in doubted if s.tag == "#shirt")
    assert shirt.score < next(s for s in plain if s.tag == "#shirt").score
    assert "#shirt" in {s.tag for s in plain}  # doubted, not removed


def test_no_embedding_or_another_kind_of_embedding_means_no_detector_tags():
    det, _ = _detector({"beach": 0.99})
    for cap in (make_caption("a dog runs"), _with_embedding("a dog runs", np.ones(7, np.float32))):
        assert "#beach" not in {s.tag for s in suggest_hashtags(cap, detector=det)}


def test_the_shipped_detector_loads_and_gives_probabilities():
    det = TagDetector.load()
    assert len(det.tags) > 100 and ("dog",) in det.tags
    p = det.probabilities(np.zeros(det.dim, dtype=np.float32))
    assert p.shape == (len(det.tags),) and ((p >= 0) & (p <= 1)).all()
    assert det.dim == 1024


def test_a_damaged_detector_is_a_clear_error(tmp_path):
    import shutil

    from desktop_app.paths import model_assets_dir

    shipped = model_assets_dir() / "tag_detector"
    shutil.copy(shipped / "detector.json", tmp_path)
    (tmp_path / "tag_detector.tflite").write_bytes(b"not a model")
    with pytest.raises(TagDetectorError, match="not a model LiteRT can run"):
        TagDetector.load(tmp_path)
    (tmp_path / "tag_detector.tflite").unlink()
    with pytest.raises(TagDetectorError, match="tag_detector.tflite: no such file"):
        TagDetector.load(tmp_path)
    shutil.copy(shipped / "tag_detector.tflite", tmp_path)
    assert TagDetector.load(tmp_path).tags == TagDetector.load().tags
    (tmp_path / "detector.json").write_text('{"format": "something-else"}')
    with pytest.raises(TagDetectorError, match="not a version-1 tag detector"):
        TagDetector.load(tmp_path)


def test_the_litert_detector_says_what_its_numpy_weights_say():
    from desktop_app.paths import model_assets_dir

    lite = TagDetector.load()
    reference = TagDetector.from_folder_arrays(model_assets_dir() / "tag_detector")
    x = np.random.default_rng(0).gamma(1.0, 0.5, size=(32, lite.dim)).astype(np.float32)
    np.testing.assert_allclose(lite.probabilities(x), reference.probabilities(x), atol=1e-5)
    np.testing.assert_allclose(lite.probabilities(x[0]), reference.probabilities(x[0]), atol=1e-5)
    # The library keys its habit sums by the weights: the same for both forms.
    assert lite.fingerprint == reference.fingerprint
