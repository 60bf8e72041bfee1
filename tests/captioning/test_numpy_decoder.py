"""The NumPy decoding step must say exactly what the Keras decoder (the one trained) says."""

import numpy as np
import tensorflow as tf

from desktop_app.captioning.numpy_decoder import NumpyDecoder


def _keras_step(decoder, feats, tokens_per_step, k):
    nf, proj, h, c = decoder.prepare(tf.constant(feats))
    rep = np.repeat(np.arange(len(feats)), k)
    nf, proj, h, c = (tf.gather(x, rep) for x in (nf, proj, h, c))
    out = []
    for tokens in tokens_per_step:
        logits, h, c, alpha = decoder.step(tf.constant(tokens), h, c, nf, proj)
        out.append((tf.nn.log_softmax(logits).numpy(), alpha.numpy()))
    return out


def _numpy_step(kernel, feats, tokens_per_step, k):
    ctx = kernel.prepare(feats)
    h, c = np.repeat(ctx.h0, k, axis=0), np.repeat(ctx.c0, k, axis=0)
    out = []
    for tokens in tokens_per_step:
        logp, h, c, alpha = kernel.step(ctx, np.asarray(tokens), h, c)
        out.append((logp, alpha))
    return out


def test_numpy_steps_match_the_keras_decoder_for_several_photos_and_beams(tiny_decoder, tiny_config):
    rng = np.random.default_rng(3)
    # Features on the scale of real ones (ReLU activations, some large), so LayerNorm matters.
    feats = (rng.gamma(0.5, 2.0, size=(2, 49, tiny_config.feature_dim))).astype(np.float32)
    k = 3
    steps = [rng.integers(1, tiny_config.vocab_size, size=2 * k).astype(np.int32) for _ in range(4)]
    kernel = NumpyDecoder.from_keras(tiny_decoder)
    for (lp_ref, a_ref), (lp, a) in zip(_keras_step(tiny_decoder, feats, steps, k),
                                        _numpy_step(kernel, feats, steps, k), strict=True):
        np.testing.assert_allclose(lp, lp_ref, atol=2e-5)
        np.testing.assert_allclose(a, a_ref, atol=2e-6)
        np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-5)


def test_a_snapshot_follows_the_weights_it_was_taken_from(tiny_decoder, tiny_config):
    feats = np.random.default_rng(4).random((1, 49, tiny_config.feature_dim), dtype=np.float32)
    before = NumpyDecoder.from_keras(tiny_decoder)
    bias = tiny_decoder.out_logits.bias
    saved = bias.numpy().copy()
    try:
        bias.assign(saved + np.arange(len(saved), dtype=np.float32))
        after = NumpyDecoder.from_keras(tiny_decoder)
        tokens = np.array([1])
        lp_before = _numpy_step(before, feats, [tokens], 1)[0][0]
        lp_after = _numpy_step(after, feats, [tokens], 1)[0][0]
        ref = _keras_step(tiny_decoder, feats, [tokens], 1)[0][0]
        np.testing.assert_allclose(lp_after, ref, atol=2e-5)
        assert np.abs(lp_before - ref).max() > 1.0
    finally:
        bias.assign(saved)
