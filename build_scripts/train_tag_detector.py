"""Train the visual tag detector: which reference hashtags a photo's pooled encoder features predict.

    python build_scripts/train_tag_detector.py --data ../shared/datasets/flickr8k \
        --cache runs/cache --out model_assets/tag_detector

A multi-label logistic regression (one sigmoid per tag) on the mean-pooled MobileNet features
that every CaptionResult already carries as its `embedding`, so it runs in NumPy, no
TensorFlow. Labels: a train photo has a tag when at least two of its five captions give it
(bench/tag_quality.py's reference tags). The tags it knows: those at least --min-photos train
photos have. L2 strength is chosen on dev (the first 1000 dev photos); test is never read.
The features come from the training run's cache (`hashlens train --cache`), computed if missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pooled_features(ds, ids: list[str], cache: Path, encoder, enc_tag: str) -> np.ndarray:
    from desktop_app.captioning.features import cached_features

    feats = cached_features(encoder, ids, [ds.images[i] for i in ids], cache, enc_tag)
    out = np.empty((len(ids), feats.shape[-1]), dtype=np.float32)
    for lo in range(0, len(ids), 500):
        out[lo : lo + 500] = np.asarray(feats[lo : lo + 500], dtype=np.float32).mean(axis=1)
    return out


def tag_words(keys: list[str], texts) -> dict[str, list[str]]:
    """Each tag key's words ("littlegirl" -> ["little", "girl"]), so either style can be written."""
    from bench.tag_quality import human_caption
    from desktop_app.tagging import suggest_hashtags
    from desktop_app.tagging.rules import tag_key

    want, out = set(keys), {}
    for text in texts:
        for h in suggest_hashtags(human_caption(text), style="underscored"):
            key = tag_key(h.tag)
            if key in want and key not in out:
                out[key] = h.tag.lstrip("#").split("_")
        if len(out) == len(want):
            break
    return {k: out.get(k, [k]) for k in keys}


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 600, lr: float = 0.05, seed: int = 0):
    """Full-batch Adam on the mean binary cross-entropy + l2 * |W|^2."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    w = rng.normal(0, 0.01, (d, y.shape[1])).astype(np.float32)
    prior = np.clip(y.mean(axis=0), 1e-4, 1 - 1e-4)
    b = np.log(prior / (1 - prior)).astype(np.float32)
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, steps + 1):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = (p - y) / n
        grads = [x.T @ g + 2 * l2 * w, g.sum(axis=0)]
        for i, (param, grad) in enumerate(zip((w, b), grads, strict=True)):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            param -= lr * (m[i] / (1 - 0.9**t)) / (np.sqrt(v[i] / (1 - 0.999**t)) + 1e-8)
    return w, b


def main(argv: list[str] | None = None) -> int:
    from bench.tag_quality import references, score_top
    from desktop_app.captioning.datasets import load_dataset
    from desktop_app.captioning.encoder import encoder_tag
    from desktop_app.captioning.features import LazyImageEncoder
    from desktop_app.tagging.detector import FORMAT, TagDetector, arrays_fingerprint

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "datasets" / "flickr8k")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "cache")
    ap.add_argument("--out", type=Path, default=ROOT / "model_assets" / "tag_detector")
    ap.add_argument("--min-photos", type=int, default=15)
    ap.add_argument("--l2", type=float, nargs="*", default=[1e-3, 3e-3, 1e-2, 3e-2])
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    ds = load_dataset(a.data)
    captions = ds.captions
    train_ids, dev_ids = ds.split("train"), ds.split("dev")[:1000]
    encoder, enc_tag = LazyImageEncoder(), encoder_tag()
    x_train, x_dev = (pooled_features(ds, ids, a.cache, encoder, enc_tag) for ids in (train_ids, dev_ids))
    ref_train = [references(captions[i]) for i in train_ids]
    counts = Counter(t for refs in ref_train for t in refs)
    tags = sorted(t for t, c in counts.items() if c >= a.min_photos)
    words = tag_words(tags, (c for i in train_ids for c in captions[i]))
    col = {t: j for j, t in enumerate(tags)}

    def labels(refs_list):
        y = np.zeros((len(refs_list), len(tags)), dtype=np.float32)
        for i, refs in enumerate(refs_list):
            for t in refs:
                if t in col:
                    y[i, col[t]] = 1.0
        return y

    ref_dev = [references(captions[i]) for i in dev_ids]
    y_train, y_dev = labels(ref_train), labels(ref_dev)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    z_train = (x_train - mean) / std
    print(f"{len(tags)} tags (>= {a.min_photos} train photos), {len(train_ids)} train / {len(dev_ids)} dev photos",
          file=sys.stderr)
    best = None
    for l2 in a.l2:
        w, b = fit(z_train, y_train, l2)
        p = TagDetector.from_arrays([tuple(words[t]) for t in tags], mean, std, w, b).probabilities(x_dev)
        nll = -float(np.mean(y_dev * np.log(p + 1e-7) + (1 - y_dev) * np.log(1 - p + 1e-7)))
        top = np.argsort(-p, axis=1)[:, :5]
        prec, hit = map(float, np.mean([score_top([tags[j] for j in row], r)
                                         for row, r in zip(top, ref_dev, strict=True)], axis=0))
        print(f"l2 {l2:g}: dev cross-entropy {nll:.4f}, top-5 alone vs 5 captions: precision@5 {prec:.3f} "
              f"hit@5 {hit:.3f}", file=sys.stderr)
        if best is None or nll < best[0]:
            best = (nll, l2, w, b, prec, hit)
    nll, l2, w, b, prec, hit = best
    a.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(a.out / "weights.npz", mean=mean.astype(np.float32), std=std.astype(np.float32),
                        w=w.astype(np.float16), b=b.astype(np.float32))
    saved = (mean.astype(np.float32), std.astype(np.float32), w.astype(np.float16), b.astype(np.float32))
    meta = {"format": FORMAT, "format_version": 1, "tags": [words[t] for t in tags],
            "fingerprint": arrays_fingerprint(*saved),
            "features": "mean-pooled MobileNetV1 conv_pw_13_relu (the caption's embedding)",
            "training": {"data": "Flickr8k train (6000 photos)", "labels": "tags given by >= 2 of 5 captions",
                         "min_photos": a.min_photos, "l2": l2, "chosen_on": "dev cross-entropy",
                         "dev_cross_entropy": round(nll, 5), "dev_top5_alone": {"precision@5": round(prec, 4),
                                                                               "hit@5": round(hit, 4)},
                         "wall_s": round(time.perf_counter() - t0, 1)}}
    (a.out / "detector.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {a.out} (l2 {l2:g}); now run build_scripts/convert_tflite.py to make the "
          "LiteRT model the app runs and its registry entry", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
