"""The attention decoder's inference step in NumPy, rearranged for speed.

`decoder.AttentionDecoder` is the definition (training runs it, teacher-forced, in
TensorFlow). Decoding runs one small step per word for a handful of beams, and there
TensorFlow's per-op dispatch costs more than the arithmetic: a TensorFlow step took ~8 ms
for 3 beams on 2 cores, this one ~1.5 ms (`python -m bench.captioner_speed`). Three
rearrangements, exact up to float rounding, do the rest:

- the context vector z = beta * sum_i alpha_i a_i only ever enters the network through two
  linear maps (the LSTM's gates and the deep output), so a_i is pushed through both maps once
  per photo in `prepare`; a step then mixes 49 precomputed rows instead of reading the
  1024x2048 context kernel for every word;
- the three maps of h (LSTM gates, attention query, gate beta) are one matrix product;
- a word's embedding enters the gates through a fixed map, so every word's contribution is
  computed once (`embedding_gates`, V x 4U, ~21 MB) and a step looks up its rows instead of
  multiplying by the 256x2048 kernel (~0.27 ms of a ~2.2 ms step on one core).

tests/captioning/test_numpy_decoder.py checks that both agree with the Keras step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import LAYER_NORM_EPS, DecoderConfig


@dataclass(frozen=True)
class PhotoContext:
    """What a step needs of each photo, computed once per batch: rows are photos."""

    proj: np.ndarray  # (N, L, A) the attention's projection of the annotations
    ctx_gates: np.ndarray  # (N, L, 4U) each annotation's contribution to the LSTM gates
    ctx_out: np.ndarray  # (N, L, E) ... and to the deep output
    h0: np.ndarray  # (N, U)
    c0: np.ndarray  # (N, U)

    def select(self, photos: np.ndarray) -> PhotoContext:
        return PhotoContext(self.proj[photos], self.ctx_gates[photos], self.ctx_out[photos],
                            self.h0[photos], self.c0[photos])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings for large |x|


def weight_shapes(config: DecoderConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every decoder weight (keys as in a bundle) that `config` implies."""
    V, E, U = config.vocab_size, config.embed_dim, config.lstm_units
    A, D = config.attention_units, config.feature_dim
    return {
        "embedding/embeddings": (V, E), "feat_norm/gamma": (D,), "feat_norm/beta": (D,),
        "init_h/kernel": (D, U), "init_h/bias": (U,), "init_c/kernel": (D, U), "init_c/bias": (U,),
        "att_feat/kernel": (D, A), "att_hidden/kernel": (U, A), "att_hidden/bias": (A,),
        "att_score/kernel": (A, 1), "att_score/bias": (1,), "gate/kernel": (U, 1), "gate/bias": (1,),
        "lstm/kernel": (E + D + U, 4 * U), "lstm/bias": (4 * U,), "out_h/kernel": (U, E),
        "out_h/bias": (E,), "out_z/kernel": (D, E), "out_logits/kernel": (E, V), "out_logits/bias": (V,),
    }


class NumpyDecoder:
    """prepare(features) once per batch, then step(...) once per word for all beams."""

    def __init__(self, config: DecoderConfig, w: dict[str, np.ndarray]):
        """Raises ValueError naming the first weight that is missing or of another shape."""
        for key, shape in weight_shapes(config).items():
            if key not in w:
                raise ValueError(f"no weights for {key}")
            if tuple(w[key].shape) != shape:
                raise ValueError(f"{key} has shape {tuple(w[key].shape)}, expected {shape}")
        self.config = config
        E, U = config.embed_dim, config.lstm_units
        f32 = lambda x: np.ascontiguousarray(x, dtype=np.float32)  # noqa: E731
        lstm_k = w["lstm/kernel"]  # rows: [embedding (E); context (D); h (U)]
        D = lstm_k.shape[0] - E - U
        self.ln_gamma, self.ln_beta = f32(w["feat_norm/gamma"]), f32(w["feat_norm/beta"])
        # Per photo: annotations -> attention projection | gate contributions | output contribution.
        self.w_feat = f32(np.concatenate([w["att_feat/kernel"], lstm_k[E : E + D], w["out_z/kernel"]], axis=1))
        self.splits = (w["att_feat/kernel"].shape[1], w["att_feat/kernel"].shape[1] + 4 * U)
        self.w_init = f32(np.concatenate([w["init_h/kernel"], w["init_c/kernel"]], axis=1))
        self.b_init = f32(np.concatenate([w["init_h/bias"], w["init_c/bias"]]))
        # Per step: h -> LSTM gates | attention query | gate beta, in one product.
        self.w_h = f32(np.concatenate([lstm_k[E + D :], w["att_hidden/kernel"], w["gate/kernel"]], axis=1))
        self.b_h = f32(np.concatenate([w["lstm/bias"], w["att_hidden/bias"], w["gate/bias"]]))
        self.embedding = f32(w["embedding/embeddings"])
        self.embedding_gates = self.embedding @ f32(lstm_k[:E])  # (V, 4U): each word's part of the gates
        self.w_score, self.b_score = f32(w["att_score/kernel"][:, 0]), float(w["att_score/bias"][0])
        self.w_out_h, self.b_out_h = f32(w["out_h/kernel"]), f32(w["out_h/bias"])
        self.w_logits, self.b_logits = f32(w["out_logits/kernel"]), f32(w["out_logits/bias"])

    @classmethod
    def from_keras(cls, decoder) -> NumpyDecoder:
        """Snapshot a Keras `AttentionDecoder`'s weights (call again after they change)."""
        from .bundle import model_weights
        from .decoder import AttentionDecoder

        if type(decoder).step is not AttentionDecoder.step:
            raise TypeError(f"{type(decoder).__name__} has a step of its own: give the captioner its own kernel")
        return cls(decoder.config, model_weights(decoder))  # keys as in a bundle: "lstm/kernel", ...

    def prepare(self, feats: np.ndarray) -> PhotoContext:
        """feats (N, L, D) -> the per-photo context."""
        x = np.asarray(feats, dtype=np.float32)
        mu = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        x = (x - mu) / np.sqrt(var + LAYER_NORM_EPS) * self.ln_gamma + self.ln_beta
        n, L, D = x.shape
        y = (x.reshape(n * L, D) @ self.w_feat).reshape(n, L, -1)
        a, b = self.splits
        hc = np.tanh(x.mean(axis=1) @ self.w_init + self.b_init)
        U = self.config.lstm_units
        return PhotoContext(np.ascontiguousarray(y[..., :a]), np.ascontiguousarray(y[..., a:b]),
                            np.ascontiguousarray(y[..., b:]), hc[:, :U], hc[:, U:])

    def step(self, ctx: PhotoContext, tokens: np.ndarray, h: np.ndarray, c: np.ndarray):
        """tokens (M,), h, c (M, U), M = photos x beams, photo-major ->
        (log_probs (M, V), h, c, alpha (M, L))."""
        n, L, A = ctx.proj.shape
        M = tokens.shape[0]
        k = M // n
        U = self.config.lstm_units
        emb = self.embedding[tokens]
        hh = h @ self.w_h + self.b_h
        gates_h, query, gate = hh[:, : 4 * U], hh[:, 4 * U : 4 * U + A], hh[:, -1:]
        e = np.tanh(ctx.proj[:, None] + query.reshape(n, k, 1, A)) @ self.w_score + self.b_score  # (n, k, L)
        e -= e.max(axis=-1, keepdims=True)
        alpha = np.exp(e)
        alpha /= alpha.sum(axis=-1, keepdims=True)
        beta = _sigmoid(gate)
        gates = gates_h + self.embedding_gates[tokens] + np.matmul(alpha, ctx.ctx_gates).reshape(M, -1) * beta
        i, f, g, o = (gates[:, j * U : (j + 1) * U] for j in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        deep = emb + h @ self.w_out_h + self.b_out_h + np.matmul(alpha, ctx.ctx_out).reshape(M, -1) * beta
        logits = deep @ self.w_logits + self.b_logits
        logits -= logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        return logp, h, c, alpha.reshape(M, L)
