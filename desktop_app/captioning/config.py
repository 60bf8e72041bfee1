"""The captioner's hyper-parameters, with their defaults in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

LAYER_NORM_EPS = 1e-5  # the decoder's feature LayerNorm (decoder.py and numpy_decoder.py)


@dataclass(frozen=True)
class DecoderConfig:
    vocab_size: int
    embed_dim: int = 256
    lstm_units: int = 512
    attention_units: int = 512
    feature_dim: int = 1024  # MobileNetV1 conv_pw_13: 7x7x1024 annotation vectors
    grid: tuple[int, int] = (7, 7)
    dropout: float = 0.5
    max_len: int = 20  # words per caption, without <start>/<end>

    def to_dict(self) -> dict:
        d = asdict(self)
        d["grid"] = list(self.grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DecoderConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "grid" in kw:
            kw["grid"] = tuple(kw["grid"])
        return cls(**kw)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 4e-4
    lr_decay: float = 0.8  # multiply the learning rate by this after every epoch
    clip_norm: float = 5.0
    alpha_c: float = 1.0  # doubly stochastic attention regularisation (lambda)
    label_smoothing: float = 0.1
    min_word_count: int = 5
    patience: int = 2  # epochs without a better dev BLEU-4 before stopping
    seed: int = 1234
    # -log(attention inside the named object's boxes) per object word, with --attention-boxes
    attention_weight: float = 1.0
    dev_images: int = 1000  # dev photos scored after each epoch (0 = the whole split)
