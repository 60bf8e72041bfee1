"""A loaded captioner: frozen encoder + attention decoder + beam search, batched over photos.

The encoder runs as a `tf.function` whose input signature leaves the batch size open (no
retracing per photo or per batch size); TensorFlow places it on a GPU when it sees one. The
decoder's small per-word steps run in NumPy (numpy_decoder.py).
"""

from __future__ import annotations

import threading

import numpy as np
import tensorflow as tf

from ..results import AlternativeCaption, CaptionResult, ImagenetGuess
from .beam_search import REPEATABLE, beam_search
from .bundle import BundleContents, load_weights_into, read_bundle
from .decoder import AttentionDecoder, build_decoder
from .numpy_decoder import NumpyDecoder
from .vocabulary import Vocabulary


class ImageEncoder:
    """The frozen encoder as one compiled function: uint8 photos -> (features, class probs).

    Used by the captioner and, on its own, by training to cache features.
    """

    def __init__(self, model, input_size: int = 224):
        self.model = model
        self._on_gpu = bool(tf.config.list_logical_devices("GPU"))
        self._encode = tf.function(self._encode_impl, input_signature=[
            tf.TensorSpec((None, input_size, input_size, 3), tf.uint8)], autograph=False)

    def _encode_impl(self, images):
        out = self.model(tf.cast(images, tf.float32), training=False)  # {"features", "logits"}
        feats, logits = out["features"], out["logits"]
        b = tf.shape(feats)[0]
        feats = tf.reshape(feats, (b, -1, feats.shape[-1]))
        return feats, tf.nn.softmax(logits, axis=-1)

    # On a CPU, small batches stay in cache: 19 ms a photo in fours, 29 ms in 32s (measured on
    # 2 cores). A GPU takes the batch whole.
    cpu_chunk = 4

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, S, S, 3) -> features (N, H*W, D) float32, class probs (N, classes)."""
        step = len(images) if self._on_gpu else self.cpu_chunk
        parts = [self._encode(tf.convert_to_tensor(images[lo : lo + step], tf.uint8))
                 for lo in range(0, len(images), max(1, step))]
        return (np.concatenate([f.numpy() for f, _ in parts]), np.concatenate([p.numpy() for _, p in parts]))


class BundleCaptioner:
    def __init__(self, encoder, decoder: AttentionDecoder, vocab: Vocabulary, version: str,
                 labels: list[str] | None = None, top_classes: int = 5, input_size: int = 224,
                 kernel=None):
        self.input_size = input_size
        # The GUI's tagging jobs and the folder watcher may share one captioner: one batch at
        # a time keeps peak memory flat and the two from fighting over the same cores.
        self._lock = threading.Lock()
        self.encoder = ImageEncoder(encoder, input_size) if encoder is not None else None
        self.config = decoder.config  # (the Keras decoder itself is not kept: the kernel is)
        self.vocab = vocab
        self.version = version
        self.labels = labels
        self.top_classes = top_classes
        self.grid = tuple(self.config.grid)
        # Decoding runs in NumPy (see numpy_decoder.py for why); a peer design with a step of its
        # own (bench/captioner_speed.py) passes its own kernel with the same prepare/step.
        self.kernel = kernel or NumpyDecoder.from_keras(decoder)
        self._repeatable = frozenset(vocab.stoi[w] for w in REPEATABLE if w in vocab.stoi)
        self._banned = (vocab.pad_id, vocab.start_id, vocab.unk_id)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(cls, bundle=None) -> BundleCaptioner:
        from .encoder import build_encoder, imagenet_labels

        contents = read_bundle(bundle)
        return cls.from_contents(contents, build_encoder(), imagenet_labels())

    @classmethod
    def from_contents(cls, contents: BundleContents, encoder, labels=None) -> BundleCaptioner:
        decoder = build_decoder(contents.config)
        load_weights_into(decoder, contents.weights, f"model bundle {contents.path}")
        return cls(encoder, decoder, contents.vocab, contents.model_version, labels)

    # -- public ---------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        return device_description()

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, 224, 224, 3) -> features (N, 49, 1024) float32, class probs (N, 1001)."""
        return self.encoder.encode(images)

    def caption_features(self, feats: np.ndarray, beam: int = 3, max_len: int | None = None):
        """Decode captions from precomputed features; returns beam_search Hypotheses."""
        k = max(1, int(beam))
        ctx = self.kernel.prepare(feats)
        state = (np.repeat(ctx.h0, k, axis=0), np.repeat(ctx.c0, k, axis=0))

        selected = [np.arange(len(feats)), ctx]  # the live photos' contexts, selected once per set

        def step(tokens, st, photos):
            if not np.array_equal(photos, selected[0]):
                selected[:] = photos, ctx.select(photos)
            logp, h, c, alpha = self.kernel.step(selected[1], tokens, st[0], st[1])
            return logp, (h, c), alpha

        return beam_search(step, state, feats.shape[0], k, max_len or self.config.max_len,
                           self.vocab.start_id, self.vocab.end_id, banned_ids=self._banned,
                           repeatable_ids=self._repeatable)

    def caption_batch(self, images: np.ndarray, beam: int = 3) -> list[CaptionResult]:
        with self._lock:
            return self._caption_batch(images, beam)

    def _caption_batch(self, images: np.ndarray, beam: int) -> list[CaptionResult]:
        feats, probs = self.encode(images)
        hyps = self.caption_features(feats, beam=beam)
        pooled = feats.mean(axis=1)
        out = []
        for i, hyp in enumerate(hyps):
            words = tuple(self.vocab.itos[t] for t in hyp.token_ids)
            out.append(CaptionResult(
                caption=" ".join(words),
                tokens=words,
                token_probs=tuple(float(np.exp(lp)) for lp in hyp.token_logprobs),
                attention=np.asarray(hyp.attention, dtype=np.float32),
                grid=self.grid,
                log_prob=hyp.log_prob,
                embedding=pooled[i].astype(np.float32),
                imagenet=self._top_classes(probs[i]),
                model_version=self.version,
                alternatives=tuple(
                    AlternativeCaption(
                        tokens=tuple(self.vocab.itos[t] for t in alt.token_ids),
                        token_probs=tuple(float(np.exp(lp)) for lp in alt.token_logprobs),
                        weight=float(np.exp(min(0.0, alt.log_prob - hyp.log_prob))))
                    for alt in hyp.alternatives),
            ))
        return out

    def _top_classes(self, p: np.ndarray) -> tuple[ImagenetGuess, ...]:
        if not self.labels:
            return ()
        idx = np.argsort(-p)[: self.top_classes + 1]
        return tuple(ImagenetGuess(self.labels[i], float(p[i])) for i in idx if i != 0)[: self.top_classes]


def device_description() -> str:
    """'GPU (NVIDIA ...)' when TensorFlow sees a GPU, else 'CPU': for the status bar."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "")
    except Exception:  # details are best-effort
        name = ""
    return f"GPU ({name})" if name else "GPU"
