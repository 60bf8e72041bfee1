import json

import numpy as np
import pytest

from desktop_app.captioning.bundle import model_weights, read_bundle, write_bundle
from desktop_app.captioning.image_encoder import TensorFlowImageEncoder
from desktop_app.captioning.inference import BundleCaptioner, captioner_from_keras
from desktop_app.errors import ModelBundleError

from .conftest import ToyEncoder


@pytest.fixture
def bundle(tmp_path, tiny_decoder, tiny_config, vocab):
    return write_bundle(tmp_path / "bundle", tiny_config, vocab, model_weights(tiny_decoder),
                        meta={"model_version": "toy-1"}, card="# Toy model\n")


def test_round_trip_gives_identical_captions(bundle, tiny_decoder, vocab, photos):
    before = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy").caption_batch(photos)
    loaded = BundleCaptioner.from_contents(read_bundle(bundle), TensorFlowImageEncoder(ToyEncoder()))
    after = loaded.caption_batch(photos)
    assert [r.caption for r in after] == [r.caption for r in before]
    assert loaded.version == "toy-1"
    for a, b in zip(after, before, strict=True):
        np.testing.assert_allclose(a.token_probs, b.token_probs, atol=2e-2)  # float16 storage


def test_bundle_files_are_all_there(bundle):
    names = {p.name for p in bundle.iterdir()}
    assert {"config.json", "vocab.json", "decoder.npz", "MODEL_CARD.md", "checksums.json"} <= names


def test_corrupt_weights_are_reported_clearly(bundle):
    data = bytearray((bundle / "decoder.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / "decoder.npz").write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match="corrupt: decoder.npz does not match its checksum"):
        read_bundle(bundle)


def test_missing_file_is_reported(bundle):
    (bundle / "vocab.json").unlink()
    with pytest.raises(ModelBundleError, match="incomplete: missing vocab.json"):
        read_bundle(bundle)


def test_newer_format_asks_for_an_update(bundle):
    from desktop_app.captioning.bundle import write_checksums

    cfg = json.loads((bundle / "config.json").read_text())
    cfg["format_version"] = 99
    (bundle / "config.json").write_text(json.dumps(cfg))
    write_checksums(bundle)
    with pytest.raises(ModelBundleError, match="newer than this hashlens understands"):
        read_bundle(bundle)


def test_missing_bundle_and_file_instead_of_folder(tmp_path):
    with pytest.raises(ModelBundleError, match="does not exist"):
        read_bundle(tmp_path / "nope")
    f = tmp_path / "model.h5"
    f.write_text("x")
    with pytest.raises(ModelBundleError, match="not a folder"):
        read_bundle(f)


def test_weights_of_another_shape_are_refused(bundle, tiny_config, vocab, tiny_decoder):
    from dataclasses import replace

    from desktop_app.captioning.bundle import load_weights_into
    from desktop_app.captioning.decoder import build_decoder

    other = build_decoder(replace(tiny_config, lstm_units=24))
    with pytest.raises(ModelBundleError, match="does not fit this model"):
        load_weights_into(other, read_bundle(bundle).weights, "bundle")


def test_a_bundle_whose_weights_do_not_fit_its_config_is_refused(bundle):
    from dataclasses import replace

    contents = read_bundle(bundle)
    contents.config = replace(contents.config, lstm_units=24)
    with pytest.raises(ModelBundleError, match="does not fit this model: init_h/kernel has shape"):
        BundleCaptioner.from_contents(contents, None)
