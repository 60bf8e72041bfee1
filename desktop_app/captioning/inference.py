"""A loaded captioner: frozen encoder + attention decoder + beam search, batched over photos.

Nothing here imports TensorFlow: the encoder runs on LiteRT by default (image_encoder.py) and
the decoder's small per-word steps run in NumPy (numpy_decoder.py). `captioner_from_keras`
builds one around Keras models (training's dev scoring, tests, the bench's peer designs).
"""

from __future__ import annotations

import threading

import numpy as np

from ..errors import ModelBundleError
from ..results import AlternativeCaption, CaptionResult, ImagenetGuess
from .beam_search import REPEATABLE, beam_search
from .bundle import BundleContents, read_bundle, weight_key
from .config import DecoderConfig
from .decency import never_after
from .numpy_decoder import NumpyDecoder
from .vocabulary import Vocabulary


class BundleCaptioner:
    def __init__(self, encoder, config: DecoderConfig, kernel, vocab: Vocabulary, version: str,
                 labels: list[str] | None = None, top_classes: int = 5, input_size: int = 224):
        """encoder: an image_encoder.ImageEncoder (None to caption precomputed features only);
        kernel: the decoder's prepare/step (NumpyDecoder, or a peer design's own)."""
        self.input_size = input_size
        # The GUI's tagging jobs and the folder watcher may share one captioner: one batch at
        # a time keeps peak memory flat and the two from fighting over the same cores.
        self._lock = threading.Lock()
        self.encoder = encoder
        self.config = config
        self.vocab = vocab
        self.version = version
        self.labels = labels
        self.top_classes = top_classes
        self.grid = tuple(self.config.grid)
        self.kernel = kernel
        self._repeatable = frozenset(vocab.stoi[w] for w in REPEATABLE if w in vocab.stoi)
        self._banned = (vocab.pad_id, vocab.start_id, vocab.unk_id)
        self._never_after = never_after(vocab)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def load(cls, bundle=None, runtime: str | None = None) -> BundleCaptioner:
        """A bundle (the shipped one when None; verified) with the shipped encoder on `runtime`."""
        from ..runtime.registry import verified_path
        from .encoder import imagenet_labels
        from .image_encoder import load_image_encoder

        if bundle is None:
            verified_path("captioner_decoder")
        contents = read_bundle(bundle)
        return cls.from_contents(contents, load_image_encoder(runtime), imagenet_labels())

    @classmethod
    def from_contents(cls, contents: BundleContents, encoder, labels=None) -> BundleCaptioner:
        weights = {weight_key(k): w for k, w in contents.weights.items()}
        try:
            kernel = NumpyDecoder(contents.config, weights)
        except ValueError as exc:
            raise ModelBundleError(f"model bundle {contents.path} does not fit this model: {exc}") from None
        return cls(encoder, contents.config, kernel, contents.vocab, contents.model_version, labels)

    # -- public ---------------------------------------------------------------------------------
    @property
    def device(self) -> str:
        """Which runtime and device run the encoder ("LiteRT 2.3.0 · CPU, 2 threads")."""
        return getattr(self.encoder, "device", "")

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, 224, 224, 3) -> features (N, 49, 1024) float32, class probs (N, 1001)."""
        return self.encoder.encode(images)

    def caption_features(self, feats: np.ndarray, beam: int = 3, max_len: int | None = None,
                         word_bias: np.ndarray | None = None):
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
                           repeatable_ids=self._repeatable, word_bias=word_bias,
                           never_after=self._never_after)

    def caption_batch(self, images: np.ndarray, beam: int = 3,
                      word_bias: np.ndarray | None = None) -> list[CaptionResult]:
        """Captions for uint8 photos; word_bias (N, len(vocab)) nudges word choice (grounding)."""
        with self._lock:
            feats, probs = self.encode(images)
            return self.caption_encoded(feats, probs, beam, word_bias)

    def caption_encoded(self, feats: np.ndarray, probs: np.ndarray, beam: int = 3,
                        word_bias: np.ndarray | None = None) -> list[CaptionResult]:
        """Captions from the encoder's outputs (benchmarks decode cached features this way)."""
        hyps = self.caption_features(feats, beam=beam, word_bias=word_bias)
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


def captioner_from_keras(encoder, decoder, vocab: Vocabulary, version: str, labels=None,
                         input_size: int = 224, kernel=None) -> BundleCaptioner:
    """A captioner around Keras models (imports TensorFlow): `encoder` a Keras encoder or None,
    `decoder` an AttentionDecoder whose weights are snapshot into the NumPy kernel (call again
    after they change), unless a peer design passes its own `kernel`."""
    from .image_encoder import TensorFlowImageEncoder

    enc = TensorFlowImageEncoder(encoder, input_size) if encoder is not None else None
    return BundleCaptioner(enc, decoder.config, kernel or NumpyDecoder.from_keras(decoder), vocab,
                           version, labels, input_size=input_size)
