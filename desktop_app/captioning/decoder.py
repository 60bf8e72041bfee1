"""The soft-attention LSTM decoder of Show, Attend and Tell (Xu et al. 2015), in Keras 3.

Per step t, with annotation vectors a_1..a_L (L = 49) and the previous word y_{t-1}:
  e_ti    = w . tanh(W_a a_i + U_a h_{t-1})          (Bahdanau attention)
  alpha_t = softmax(e_t);  z_t = beta_t * sum_i alpha_ti a_i,  beta_t = sigmoid(f_beta(h_{t-1}))
  h_t, c_t = LSTM([E y_{t-1}; z_t], h_{t-1}, c_{t-1})
  p(y_t)  = softmax(L_o(dropout(E y_{t-1} + L_h h_t + L_z z_t)))   (the deep output layer)
The initial state is an MLP of the mean annotation. The features are layer-normalised first.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .config import LAYER_NORM_EPS, DecoderConfig


class AttentionDecoder(keras.Model):
    def __init__(self, config: DecoderConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        c = config
        self.feat_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPS, name="feat_norm")
        self.init_h = keras.layers.Dense(c.lstm_units, activation="tanh", name="init_h")
        self.init_c = keras.layers.Dense(c.lstm_units, activation="tanh", name="init_c")
        self.embedding = keras.layers.Embedding(c.vocab_size, c.embed_dim, name="embedding")
        self.att_feat = keras.layers.Dense(c.attention_units, use_bias=False, name="att_feat")
        self.att_hidden = keras.layers.Dense(c.attention_units, name="att_hidden")
        self.att_score = keras.layers.Dense(1, name="att_score")
        self.gate = keras.layers.Dense(1, activation="sigmoid", name="gate")
        # One matmul for the four LSTM gates over [embedding; context; h].
        self.lstm = keras.layers.Dense(4 * c.lstm_units, name="lstm",
                                       bias_initializer=_forget_bias_one(c.lstm_units))
        self.out_h = keras.layers.Dense(c.embed_dim, name="out_h")
        self.out_z = keras.layers.Dense(c.embed_dim, use_bias=False, name="out_z")
        self.out_logits = keras.layers.Dense(c.vocab_size, name="out_logits")
        self.drop = keras.layers.Dropout(c.dropout)

    # -- the pieces, shared by teacher-forced training and step-wise decoding ------------
    def prepare(self, feats):
        """feats (B, L, D) -> (normed feats, their attention projection, h0, c0)."""
        feats = self.feat_norm(feats)
        mean = tf.reduce_mean(feats, axis=1)
        return feats, self.att_feat(feats), self.init_h(mean), self.init_c(mean)

    def step(self, tokens, h, c, feats, proj, training=False):
        """One decoding step. tokens (B,) int -> (logits (B,V), h, c, alpha (B,L))."""
        emb = self.embedding(tokens)
        e = self.att_score(tf.tanh(proj + self.att_hidden(h)[:, None, :]))[..., 0]
        alpha = tf.nn.softmax(e, axis=-1)
        z = tf.reduce_sum(alpha[..., None] * feats, axis=1) * self.gate(h)
        gates = self.lstm(tf.concat([emb, z, h], axis=-1))
        i, f, g, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        deep = emb + self.out_h(self.drop(h, training=training)) + self.out_z(z)
        logits = self.out_logits(self.drop(deep, training=training))
        return logits, h, c, alpha

    def call(self, inputs, training=False):
        """Teacher forcing: (feats (B,L,D), tokens_in (B,T)) -> (logits (B,T,V), alphas (B,T,L))."""
        feats, tokens = inputs
        feats, proj, h, c = self.prepare(feats)
        all_logits, all_alpha = [], []
        for t in range(tokens.shape[1]):  # static length: unrolled inside tf.function
            logits, h, c, alpha = self.step(tokens[:, t], h, c, feats, proj, training=training)
            all_logits.append(logits)
            all_alpha.append(alpha)
        return tf.stack(all_logits, axis=1), tf.stack(all_alpha, axis=1)


def _forget_bias_one(units: int):
    def init(shape, dtype=None):
        b = tf.zeros(shape, dtype=dtype or "float32")
        return tf.tensor_scatter_nd_update(b, tf.range(units, 2 * units)[:, None],
                                           tf.ones((units,), dtype=b.dtype))
    return init


def build_decoder(config: DecoderConfig) -> AttentionDecoder:
    """A decoder with its weights created (so it can load a bundle or start training)."""
    model = AttentionDecoder(config)
    L = config.grid[0] * config.grid[1]
    feats = tf.zeros((1, L, config.feature_dim))
    model((feats, tf.zeros((1, 1), tf.int32)))
    return model
