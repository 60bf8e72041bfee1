"""Does the attention point at the thing a caption word names? (issue 19: the pointing game)

On the COCO sample, for every caption word that names a COCO class with a ground-truth box in
the photo (`boxes.tsv`; "dog" -> dog, "man" -> person), the word's attention peak (the centre
of its most attended grid cell, in the photo's frame: photos are squashed to a square, so the
grid maps onto the whole photo) is a hit when it falls inside one of that class's boxes.

Printed: the share of hits for the captioner's own attention (detectors off), for the words of
the captions the app shows that the captioner chose itself, and for all of their words (a word
the detectors put in has its detected boxes as attention), each with a chance baseline (the
share of the grid the class's boxes cover, averaged).

    python -m bench.attention_pointing [--model BUNDLE] [--own-only]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.detector_accuracy import read_sample  # noqa: E402
from bench.everyday_quality import SETS, _encode  # noqa: E402
from bench.tag_quality import load_captions, load_split  # noqa: E402


def load_boxes(data: Path) -> dict[str, list[tuple[str, tuple[float, float, float, float]]]]:
    """file -> [(class, (x0, y0, x1, y1) as fractions of the photo)], from the sample's boxes
    as bench.detector_accuracy reads them."""
    files, gt = read_sample(data)
    out: dict[str, list] = {}
    for name in files:
        with Image.open(data / "images" / name) as im:
            w, h = im.size
        out[name] = [(cat, tuple(float(v) for v in box / (w, h, w, h))) for cat, box, _crowd in gt[name]]
    return out


def pointing(described, images, boxes, model_words_only: bool = False) -> dict[str, float]:
    """model_words_only: skip the words the detectors put in a caption (their "attention" is
    the detected box), so what is left is the captioner's own attention."""
    from desktop_app.scene.classes import class_of_word

    names = class_of_word()
    hits = total = 0
    chance = []
    for im, (cap, _dets) in zip(images, described, strict=True):
        h, w = cap.grid
        if h * w == 0:
            continue
        for i, tok in enumerate(cap.tokens):
            if model_words_only and i in cap.boxed_words:
                continue
            label = names.get(tok)
            mine = [b for c, b in boxes.get(im, []) if c == label]
            if not mine:
                continue
            r, c = np.unravel_index(int(np.argmax(cap.attention[i])), (h, w))
            y, x = (r + 0.5) / h, (c + 0.5) / w
            total += 1
            hits += any(x0 <= x <= x1 and y0 <= y <= y1 for x0, y0, x1, y1 in mine)
            ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
            cover = np.zeros((h, w), bool)
            for x0, y0, x1, y1 in mine:
                cover |= np.outer((ys >= y0) & (ys <= y1), (xs >= x0) & (xs <= x1))
            chance.append(cover.mean())
    return {"words": total, "accuracy": hits / total if total else 0.0,
            "chance": float(np.mean(chance)) if chance else 0.0}


def main(argv: list[str] | None = None) -> int:
    from desktop_app.pipeline import Pipeline, TagOptions
    from desktop_app.scene.grounding import grounded_captions

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", metavar="BUNDLE", help="a captioner bundle (default: the shipped one)")
    ap.add_argument("--own-only", action="store_true", help="only the captioner's own attention (detectors off)")
    a = ap.parse_args(argv)
    data, split = SETS["coco"]
    captions = load_captions(data)
    images = [im for im in load_split(data, split) if im in captions]
    boxes = load_boxes(data)
    for detectors in (False,) if a.own_only else (False, True):
        pipe = Pipeline(model=a.model, options=TagOptions(beam=3), use_library=False,
                        detectors=None if detectors else False)
        feats, probs, found = _encode(pipe, data, images, detectors)
        cap = pipe.captioner

        def decode(bias, feats=feats, probs=probs, cap=cap):
            return cap.caption_encoded(feats.astype(np.float32), probs, 3, bias)

        described = grounded_captions(decode, cap.vocab if detectors else None, found)
        runs = [(True, "grounded captions, the captioner's own words")] if detectors else []
        runs += [(False, "grounded captions (as shown)" if detectors else "captioner's own attention")]
        for own, label in runs:
            r = pointing(described, images, boxes, model_words_only=own)
            print(f"{label}: {r['accuracy']:.2f} of {r['words']} object words point inside the object "
                  f"(chance {r['chance']:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
