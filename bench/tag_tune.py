"""Tune the hashtag ordering on Flickr8k dev (never test): caption the split once, then score
the top five under different scoring constants.

    python -m bench.tag_tune --model BUNDLE --split dev [--cache runs/dev_captions.pkl] \
        [--set ALTERNATIVE_WEIGHT=0.3 --set SOURCE_WEIGHT.imagenet_label=0.3 --set VARIANT_FACTOR=0.3 ...]

Constants live in desktop_app/tagging/{scoring,suggest,variants}.py; `NAME=VALUE` sets a module constant and
`DICT.key=VALUE` one entry of a dict constant. Figures as bench/tag_quality.py (vs 4 captions).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

from bench.tag_quality import load_captions, load_split, references, score_top


def caption_split(model: str | None, data: Path, split: str, cache: Path | None):
    if cache and cache.exists():
        return pickle.loads(cache.read_bytes())
    from desktop_app.captioning import load_captioner
    from desktop_app.captioning.evaluate import caption_split as run

    names = load_split(data, split)
    results = run(load_captioner(model), [data / "images" / n for n in names], beam=3)
    out = dict(zip(names, results, strict=True))
    if cache:
        cache.write_bytes(pickle.dumps(out))
    return out


def apply(settings: list[str]) -> None:
    """Set constants wherever the tagging modules imported them."""
    from desktop_app.tagging import scoring, suggest, variants

    for item in settings:
        name, _, value = item.partition("=")
        target, _, key = name.partition(".")
        found = False
        for mod in (scoring, suggest, variants):
            if hasattr(mod, target):
                found = True
                if key:
                    getattr(mod, target)[key] = float(value)
                else:
                    setattr(mod, target, type(getattr(mod, target))(float(value)))
        if not found:
            raise SystemExit(f"no tagging constant {target}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/datasets/flickr8k"))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--model")
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    a = ap.parse_args(argv)
    if a.split == "test":
        print("tune on dev, not test", file=sys.stderr)
        return 2
    captions = load_captions(a.data)
    results = caption_split(a.model, a.data, a.split, a.cache)
    apply(a.set)
    from desktop_app.tagging import suggest_hashtags
    from desktop_app.tagging.extend import extend_candidates
    from desktop_app.tagging.rules import tag_key

    pairs = []
    for name, res in results.items():
        found = extend_candidates(suggest_hashtags(res), res.tokens)  # as the pipeline, no library
        tags = [tag_key(h.tag) for h in found]
        caps = captions[name]
        pairs += [score_top(tags, references(caps, exclude=i)) for i in range(len(caps))]
    arr = np.asarray(pairs)
    print(f"{a.split} {' '.join(a.set) or 'defaults'}: precision@5 {arr[:, 0].mean():.3f}  "
          f"hit@5 {arr[:, 1].mean():.3f} (vs 4 captions, {len(results)} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
