import numpy as np
import tensorflow as tf

from desktop_app.captioning.inference import captioner_from_keras

from .conftest import ToyEncoder


def test_teacher_forcing_shapes_and_attention_sums_to_one(tiny_decoder, tiny_config):
    feats = tf.random.uniform((3, 49, tiny_config.feature_dim))
    tokens = tf.constant(np.random.default_rng(1).integers(1, tiny_config.vocab_size, (3, 6)), tf.int32)
    logits, alphas = tiny_decoder((feats, tokens), training=False)
    assert logits.shape == (3, 6, tiny_config.vocab_size)
    assert alphas.shape == (3, 6, 49)
    np.testing.assert_allclose(alphas.numpy().sum(axis=-1), 1.0, atol=1e-5)


def test_caption_batch_returns_tokens_probs_and_one_attention_map_per_word(tiny_decoder, vocab, photos):
    cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
    results = cap.caption_batch(photos, beam=3)
    assert len(results) == len(photos)
    for r in results:
        assert 1 <= len(r.tokens) <= tiny_decoder.config.max_len
        assert r.caption == " ".join(r.tokens)
        assert "<unk>" not in r.tokens and "<start>" not in r.tokens
        assert len(r.token_probs) == len(r.tokens)
        assert all(0.0 < p <= 1.0 for p in r.token_probs)
        assert r.attention.shape == (len(r.tokens), 49)
        np.testing.assert_allclose(r.attention.sum(axis=1), 1.0, atol=1e-4)
        assert r.attention_map(0).shape == (7, 7)
        assert r.embedding.shape == (tiny_decoder.config.feature_dim,)


def test_beam_search_never_scores_below_greedy(tiny_decoder, vocab, photos):
    cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
    feats, _ = cap.encode(photos)
    greedy = cap.caption_features(feats, beam=1)
    for width in (3, 5):
        beam = cap.caption_features(feats, beam=width)
        for g, b in zip(greedy, beam, strict=True):
            assert b.score >= g.score - 1e-6


def test_batching_does_not_change_captions(tiny_decoder, vocab, photos):
    cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
    together = [r.caption for r in cap.caption_batch(photos, beam=3)]
    alone = [cap.caption_batch(photos[i : i + 1], beam=3)[0].caption for i in range(len(photos))]
    assert together == alone


def test_unknown_word_is_never_emitted_even_when_the_model_prefers_it(tiny_decoder, vocab, photos):
    out_bias = tiny_decoder.out_logits.bias
    saved = out_bias.numpy().copy()
    try:
        boosted = saved.copy()
        boosted[vocab.unk_id] += 50.0  # the model now wants <unk> everywhere
        out_bias.assign(boosted)
        cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
        for r in cap.caption_batch(photos, beam=3):
            assert "<unk>" not in r.tokens
    finally:
        out_bias.assign(saved)


def test_ngram_followers_block_repeated_trigrams():
    from desktop_app.captioning.beam_search import _ngram_followers

    hist = np.array([5, 6, 7, 8, 5, 6])  # "a man in the a man" -> "in" would repeat "a man in"
    assert _ngram_followers(hist, 3) == [7]
    assert _ngram_followers(np.array([5]), 3) == []


def test_captions_never_stutter(tiny_decoder, vocab, photos):
    cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
    for beam in (1, 3):
        for r in cap.caption_batch(photos, beam=beam):
            assert all(a != b for a, b in zip(r.tokens, r.tokens[1:], strict=False)), r.tokens


def test_beam_keeps_distinct_runner_up_captions(tiny_decoder, vocab, photos):
    cap = captioner_from_keras(ToyEncoder(), tiny_decoder, vocab, "toy")
    for r in cap.caption_batch(photos, beam=3):
        assert len(r.alternatives) <= 2
        seen = {r.tokens} | {a.tokens for a in r.alternatives}
        assert len(seen) == 1 + len(r.alternatives)
        assert all(0.0 < a.weight <= 1.0 and len(a.token_probs) == len(a.tokens) for a in r.alternatives)
    assert all(not r.alternatives for r in cap.caption_batch(photos, beam=1))
