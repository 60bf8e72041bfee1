"""Everyday photos vs Flickr8k, in one run (issue 16): hashtags, phantom dogs, captions,
what the caption's confidence is worth.

For each set (the COCO sample: everyday photos; Flickr8k dev/test) the photos go through the
app's own path with the library off (`hashlens tag --json --beam 3 --no-library`): detectors,
grounded caption, candidates, popular variants. Printed per set:

* hashtags: precision@5 / hit@5 against 4 human captions (averaged over the 5 choices) and the
  ceiling one human caption reaches against the other four (bench.tag_quality's definitions);
  precision@5 against all 5 captions;
* phantom dogs: photos with a dog-family tag (#dog, #blackdog, #dogsofinstagram, #puppy ...) in
  the top five while no human caption names a dog;
* captions: BLEU-4 and CIDEr (pycocoevalcap, x100), and how often grounding changed them;
* confidence: AUC of caption confidence separating right captions (their first noun is one at
  least 2 of 5 people named) from wrong ones;
* reviewed list: photos of people (2+ human captions say so) with a sensitive ImageNet tag
  (resources/tagging/sensitive_imagenet.txt) in the top five.

The encoder's outputs and the detections are cached per set under .cache/bench/everyday/ (a
second run only decodes); --no-detectors gives the figures without them (the app before).

    python -m bench.everyday_quality                       # COCO sample + Flickr8k test
    python -m bench.everyday_quality --sets coco flickr-dev   # tuning
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.tag_quality import load_captions, load_split, references, score_top  # noqa: E402
from desktop_app.results import PhotoResult  # noqa: E402
from desktop_app.tagging.rules import tag_key  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
SETS = {
    "coco": (SHARED / "coco-sample", "dev"),
    "flickr-dev": (SHARED / "flickr8k", "dev"),
    "flickr-test": (SHARED / "flickr8k", "test"),
}
DOG_WORDS = re.compile(r"\b(dog|dogs|puppy|puppies)\b", re.I)
PEOPLE_WORDS = re.compile(r"\b(man|men|woman|women|boy|boys|girl|girls|child|children|kid|kids|"
                          r"people|person|baby|player|players|guy|lady|family|couple|he|she)\b", re.I)
CACHE = ROOT / ".cache" / "bench" / "everyday"


def is_dog_tag(key: str) -> bool:
    return ("dog" in key and "hotdog" not in key) or "pupp" in key


def _encode(pipe, data: Path, images: list[str], use_detectors: bool):
    """Encoder outputs and detections for a set's photos (cached)."""
    from desktop_app.pipeline import detect_photos, photo_inputs

    cap = pipe.captioner
    dets = pipe.detectors if use_detectors else []
    key = [cap.version, *images]
    for d in dets:  # the model file and the thresholds: a new detector is measured anew
        st = d.model.path.stat()
        key += [str(d.model.path), str(st.st_size), str(st.st_mtime_ns),
                repr(getattr(d, "thresholds", getattr(d, "threshold", "")))]
    digest = hashlib.sha1("\n".join(key).encode()).hexdigest()[:12]
    path = CACHE / f"{data.name}-{len(images)}-{digest}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    sizes = tuple(d.input_size for d in dets)
    feats, probs, found = [], [], []
    t0 = time.perf_counter()
    for lo in range(0, len(images), 32):
        px = [photo_inputs(data / "images" / im, cap.input_size, sizes)[0] for im in images[lo : lo + 32]]
        f, p = cap.encode(np.stack([x[0] for x in px]))
        feats.append(f.astype(np.float16))
        probs.append(p.astype(np.float32))
        found += detect_photos(dets, [x[1:] for x in px])
        sys.stderr.write(f"\r  encoded {len(found)}/{len(images)} ({time.perf_counter() - t0:.0f} s)")
    sys.stderr.write("\n")
    out = (np.concatenate(feats), np.concatenate(probs), found)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def _auc(scores: list[float], right: list[bool]) -> float | None:
    pos = [s for s, r in zip(scores, right, strict=True) if r]
    neg = [s for s, r in zip(scores, right, strict=True) if not r]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _first_noun_tag(tokens) -> str | None:
    from desktop_app.tagging.phrases import extract_phrases
    from desktop_app.tagging.rules import words_key
    from desktop_app.tagging.suggest import phrase_tag_words

    for phrase in extract_phrases(list(tokens)):
        words = phrase_tag_words(phrase)
        if words:
            return words_key((words[-1],))
    return None


def evaluate_set(pipe, name: str, use_detectors: bool, limit: int | None = None) -> dict:
    from desktop_app.captioning.metrics import score_captions
    from desktop_app.scene.grounding import grounded_captions
    from desktop_app.tagging.suggest import sensitive_labels

    data, split = SETS[name]
    captions = load_captions(data)
    images = [im for im in load_split(data, split) if im in captions][:limit]
    feats, probs, found = _encode(pipe, data, images, use_detectors)
    cap = pipe.captioner
    t0 = time.perf_counter()
    described = []
    for lo in range(0, len(images), 64):
        sl = slice(lo, lo + 64)

        def decode(bias, sl=sl):
            return cap.caption_encoded(feats[sl].astype(np.float32), probs[sl], 3, bias)

        described += grounded_captions(decode, cap.vocab if use_detectors else None, found[sl])
    sensitive = {tag_key("#" + "".join(w.lower().split())) for w in sensitive_labels()}
    rows, hyps, conf, right, changed, phantom, touchy = [], {}, [], [], 0, 0, 0
    for im, (caption, dets) in zip(images, described, strict=True):
        res = PhotoResult(path=str(data / "images" / im), caption=caption, detections=dets)
        top = [tag_key(h.tag) for h in pipe.rank(res, pipe.candidates(res))]
        caps = captions[im]
        refs = references(caps)
        rows.append((top, caps))
        hyps[im] = caption.caption
        changed += caption.source != "model"
        noun = _first_noun_tag(caption.tokens)
        conf.append(caption.confidence)
        right.append(noun is not None and noun in refs)
        phantom += any(is_dog_tag(t) for t in top[:5]) and not any(DOG_WORDS.search(c) for c in caps)
        people = sum(bool(PEOPLE_WORDS.search(c)) for c in caps) >= 2
        touchy += people and any(t in sensitive for t in top[:5])
    refs4 = np.mean([np.mean([score_top(t, references(c, exclude=i)) for i in range(len(c))], axis=0)
                     for t, c in rows], axis=0)
    refs5 = np.mean([score_top(t, references(c)) for t, c in rows], axis=0)
    ceil = np.mean([score_top(_human_top(c[i]), references(c, exclude=i))
                    for _, c in rows for i in range(len(c))], axis=0)
    scores = score_captions({im: captions[im] for im in images}, hyps)
    n = len(images)
    return {
        "set": name, "photos": n, "detectors": use_detectors,
        "precision@5": float(refs4[0]), "hit@5": float(refs4[1]),
        "ceiling_precision@5": float(ceil[0]), "ceiling_hit@5": float(ceil[1]),
        "of_ceiling": float(refs4[0] / ceil[0]) if ceil[0] else 0.0,
        "precision@5_refs5": float(refs5[0]), "hit@5_refs5": float(refs5[1]),
        "phantom_dogs": phantom / n, "sensitive_top5": touchy,
        "BLEU-4": scores["BLEU-4"], "CIDEr": scores["CIDEr"], "captions_changed": changed / n,
        "confidence_auc": _auc(conf, right), "right_captions": float(np.mean(right)),
        "decode_s": time.perf_counter() - t0,
    }


def _human_top(text: str) -> list[str]:
    from bench.tag_quality import caption_tags

    return list(caption_tags(text))


def _print(r: dict) -> None:
    auc = "n/a" if r["confidence_auc"] is None else f"{r['confidence_auc']:.2f}"
    print(f"{r['set']} ({r['photos']} photos, detectors {'on' if r['detectors'] else 'off'})\n"
          f"  hashtags: precision@5 {r['precision@5']:.3f} vs ceiling {r['ceiling_precision@5']:.3f}"
          f" = {r['of_ceiling']:.2f} of it; hit@5 {r['hit@5']:.3f} (ceiling {r['ceiling_hit@5']:.3f});"
          f" vs 5 captions: precision@5 {r['precision@5_refs5']:.3f} hit@5 {r['hit@5_refs5']:.3f}\n"
          f"  phantom dogs {r['phantom_dogs']:.1%}; sensitive ImageNet tag in top 5 on people: {r['sensitive_top5']}\n"
          f"  captions: BLEU-4 {r['BLEU-4']:.1f} CIDEr {r['CIDEr']:.1f}; changed by grounding "
          f"{r['captions_changed']:.1%}; confidence AUC (right vs wrong subject) {auc}, "
          f"right subjects {r['right_captions']:.1%}")


def main(argv: list[str] | None = None) -> int:
    from desktop_app.pipeline import Pipeline, TagOptions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=["coco", "flickr-test"], choices=sorted(SETS))
    ap.add_argument("--no-detectors", action="store_true", help="the caption and classifier alone")
    ap.add_argument("--limit", type=int, help="first N photos of each set (quick looks)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--model", metavar="BUNDLE", help="a captioner bundle (default: the shipped one)")
    args = ap.parse_args(argv)
    pipe = Pipeline(model=args.model, options=TagOptions(beam=3), use_library=False,
                    detectors=False if args.no_detectors else None)
    report = []
    for name in args.sets:
        r = evaluate_set(pipe, name, not args.no_detectors, args.limit)
        _print(r)
        report.append(r)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
