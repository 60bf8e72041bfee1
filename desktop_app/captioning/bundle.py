"""Model bundles: one folder with the decoder weights, vocabulary, a versioned config,
MODEL_CARD.md and checksums.

    config.json        format name and version, decoder hyper-parameters, encoder reference
    vocab.json         the words (specials are implied)
    decoder.npz        weights by variable path, stored as float16 (float32 in memory)
    MODEL_CARD.md      what it was trained on, how well it does, what it gets wrong
    checksums.json     sha256 of each file above but itself

`read_bundle` checks all of it without TensorFlow and says exactly what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelBundleError
from ..fingerprint import content_hash, stable_file_hash
from ..paths import model_assets_dir
from .config import DecoderConfig
from .vocabulary import Vocabulary

FORMAT = "hashlens-captioner"
FORMAT_VERSION = 1
FILES = ("config.json", "vocab.json", "decoder.npz")
DEFAULT_BUNDLE_NAME = "captioner"
_MODEL_PREFIX = re.compile(r"^attention_decoder(_\d+)?/")


def default_bundle_path() -> Path:
    return model_assets_dir() / DEFAULT_BUNDLE_NAME


@dataclass
class BundleContents:
    path: Path
    config: DecoderConfig
    vocab: Vocabulary
    weights: dict[str, np.ndarray]
    meta: dict  # the whole config.json

    @property
    def model_version(self) -> str:
        return str(self.meta.get("model_version", "unknown"))


def write_bundle(folder: str | Path, config: DecoderConfig, vocab: Vocabulary,
                 weights: dict[str, np.ndarray], meta: dict | None = None,
                 card: str | None = None) -> Path:
    """Write a bundle atomically enough: files first, checksums last (a bundle without a
    matching checksums.json is reported as incomplete)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "checksums.json").unlink(missing_ok=True)
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, **(meta or {}), "decoder": config.to_dict()}
    (out / "config.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    vocab.save(out / "vocab.json")
    np.savez_compressed(out / "decoder.npz", **{k: v.astype(np.float16) for k, v in weights.items()})
    if card is not None:
        (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    write_checksums(out)
    return out


def write_checksums(folder: Path) -> None:
    names = [n for n in (*FILES, "MODEL_CARD.md") if (folder / n).exists()]
    sums = {n: content_hash(folder / n) for n in names}
    (folder / "checksums.json").write_text(json.dumps(sums, indent=2), encoding="utf-8")


def read_bundle(folder: str | Path | None = None) -> BundleContents:
    """Read and check a bundle (the shipped default when folder is None)."""
    path = Path(folder) if folder else default_bundle_path()
    where = f"model bundle {path}"
    if not path.exists():
        hint = (" The shipped model is missing from this installation; reinstall hashlens."
                if folder is None else "")
        raise ModelBundleError(f"{where} does not exist.{hint}")
    if not path.is_dir():
        raise ModelBundleError(f"{where} is not a folder (a bundle is a folder with config.json, "
                               "vocab.json, decoder.npz and checksums.json)")
    missing = [n for n in (*FILES, "checksums.json") if not (path / n).is_file()]
    if missing:
        raise ModelBundleError(f"{where} is incomplete: missing {', '.join(missing)}")
    try:
        sums = json.loads((path / "checksums.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ModelBundleError(f"{where}: checksums.json is unreadable ({exc})") from None
    for name, want in sums.items():
        f = path / name
        if not f.is_file():
            raise ModelBundleError(f"{where} is incomplete: missing {name}")
        if stable_file_hash(f) != want:
            raise ModelBundleError(f"{where} is corrupt: {name} does not match its checksum "
                                   "(damaged or changed after training)")
    try:
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelBundleError(f"{where}: config.json is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise ModelBundleError(f"{where} is not a hashlens captioner (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelBundleError(
            f"{where} has format version {version}, newer than this hashlens understands "
            f"({FORMAT_VERSION}); update hashlens to use it")
    try:
        config = DecoderConfig.from_dict(meta["decoder"])
        vocab = Vocabulary.load(path / "vocab.json")
        with np.load(path / "decoder.npz") as npz:
            weights = {k: npz[k].astype(np.float32) for k in npz.files}
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelBundleError(f"{where} cannot be read ({type(exc).__name__}: {exc})") from None
    if len(vocab) != config.vocab_size:
        raise ModelBundleError(f"{where}: vocab.json has {len(vocab)} words but the config says "
                               f"{config.vocab_size}")
    return BundleContents(path, config, vocab, weights, meta)


def weight_key(path: str) -> str:
    """A variable's path without the model's own name ("attention_decoder_1/lstm/kernel" ->
    "lstm/kernel"): Keras numbers model names per process, the layers inside stay put."""
    return _MODEL_PREFIX.sub("", path, count=1)


def model_weights(model) -> dict[str, np.ndarray]:
    return {weight_key(v.path): np.asarray(v.numpy()) for v in model.weights}


def load_weights_into(model, weights: dict[str, np.ndarray], where: str) -> None:
    """Assign by variable path; any missing or mis-shaped weight is a bundle error."""
    weights = {weight_key(k): w for k, w in weights.items()}
    for v in model.weights:
        key = weight_key(v.path)
        if key not in weights:
            raise ModelBundleError(f"{where} does not fit this model: no weights for {key}")
        w = weights[key]
        if tuple(w.shape) != tuple(v.shape):
            raise ModelBundleError(f"{where} does not fit this model: {v.path} has shape "
                                   f"{tuple(w.shape)}, expected {tuple(v.shape)}")
        v.assign(w)
