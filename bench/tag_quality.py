"""How good are the suggested hashtags? precision@5 and hit@5 on Flickr8k.

Reference tags of a photo: the tags (nouns and noun phrases, through the same extraction and
normalization as the app: plural folding, Instagram form, stoplist) that at least 2 of its
human captions give.

* ceiling: the extraction step on a perfect caption. Each human caption in turn is "the
  model's caption" (decoder probabilities all 1.0); its top five tags are scored against the
  references of the other four captions. Averaged over the five choices and the photos.
* model (--predictions FILE.jsonl, lines as printed by `hashlens tag --json`): the top five
  tags of each photo against the references of all five captions ("refs5"), and, comparable
  with the ceiling, against each set of four captions in turn ("refs4", averaged).
  --exclude-caption N scores against the four captions other than caption N only (for
  stand-in predictions made from caption N, see --write-standin).

precision@5 = right tags among the top five / 5; hit@5 = share of photos with at least one
right tag in the top five. Photos missing from the predictions, or with an error, count as
zero. Tags are compared without their style (#teddy_bear == #teddybear).

    python -m bench.tag_quality --data ../shared/datasets/flickr8k --split dev
    python -m bench.tag_quality --data ../shared/datasets/flickr8k --split test \
        --predictions runs/test_tags.jsonl

The dataset is read where it is; nothing is copied. Tune on dev.txt, report on test.txt.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop_app.results import CaptionResult, PhotoResult  # noqa: E402
from desktop_app.tagging import suggest_hashtags  # noqa: E402
from desktop_app.tagging.rules import tag_key  # noqa: E402

TOP_K = 5
MIN_MENTIONS = 2


def load_captions(data: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    with open(data / "captions.tsv", encoding="utf-8") as fh:
        for line in fh:
            if "\t" not in line:
                continue
            image, text = line.rstrip("\n").split("\t", 1)
            captions[image].append(text)
    return dict(captions)


def load_split(data: Path, split: str) -> list[str]:
    path = data / "splits" / f"{split}.txt"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def tokenize(text: str) -> tuple[str, ...]:
    """Human captions as the model writes them: lowercase words, no punctuation tokens."""
    return tuple(t for t in text.lower().split() if any(ch.isalnum() for ch in t))


def human_caption(text: str) -> CaptionResult:
    """A human caption dressed as the model's output, every token probability 1.0."""
    tokens = tokenize(text)
    return CaptionResult(
        caption=" ".join(tokens),
        tokens=tokens,
        token_probs=(1.0,) * len(tokens),
        attention=np.zeros((len(tokens), 0), dtype=np.float32),
        grid=(0, 0),
        log_prob=0.0,
    )


@cache
def caption_tags(text: str) -> tuple[str, ...]:
    """All tags of a human caption, ranked (style-free keys)."""
    return tuple(tag_key(h.tag) for h in suggest_hashtags(human_caption(text), limit=30))


def references(captions: Sequence[str], exclude: int | None = None) -> set[str]:
    counts: Counter[str] = Counter()
    for i, text in enumerate(captions):
        if i != exclude:
            counts.update(set(caption_tags(text)))
    return {tag for tag, n in counts.items() if n >= MIN_MENTIONS}


def score_top(predicted: Iterable[str], refs: set[str], k: int = TOP_K) -> tuple[float, float]:
    top: list[str] = []
    for tag in predicted:
        if tag not in top:
            top.append(tag)
        if len(top) == k:
            break
    right = sum(1 for tag in top if tag in refs)
    return right / k, float(right > 0)


def _mean(pairs: list[tuple[float, float]]) -> dict[str, float]:
    if not pairs:
        return {"precision@5": 0.0, "hit@5": 0.0, "n": 0}
    arr = np.asarray(pairs, dtype=float)
    return {
        "precision@5": float(arr[:, 0].mean()),
        "hit@5": float(arr[:, 1].mean()),
        "n": len(pairs),
    }


def ceiling(captions: dict[str, list[str]], images: list[str]) -> dict[str, float]:
    pairs = []
    for image in images:
        caps = captions[image]
        for i, text in enumerate(caps):
            pairs.append(score_top(caption_tags(text), references(caps, exclude=i)))
    return _mean(pairs)


def load_predictions(path: Path) -> dict[str, list[str] | None]:
    """image file name -> ranked tag keys (None for a photo that failed)."""
    out: dict[str, list[str] | None] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            name = Path(row.get("path") or "").name
            if row.get("error"):
                out[name] = None
            else:
                out[name] = [tag_key(h["tag"]) for h in row.get("hashtags") or [] if h.get("tag")]
    return out


def score_predictions(
    captions: dict[str, list[str]],
    images: list[str],
    predictions: dict[str, list[str] | None],
    exclude_caption: int | None = None,
) -> dict[str, object]:
    refs5, refs4 = [], []
    missing = failed = 0
    for image in images:
        caps = captions[image]
        tags = predictions.get(image)
        if image not in predictions:
            missing += 1
        elif tags is None:
            failed += 1
        tags = tags or []
        if exclude_caption is not None:
            refs4.append(score_top(tags, references(caps, exclude=exclude_caption)))
            continue
        refs5.append(score_top(tags, references(caps)))
        folds = [score_top(tags, references(caps, exclude=i)) for i in range(len(caps))]
        refs4.append(tuple(np.mean(folds, axis=0)))
    result: dict[str, object] = {"refs4": _mean(refs4), "missing": missing, "failed": failed}
    if exclude_caption is None:
        result["refs5"] = _mean(refs5)
    return result


def write_standin(
    captions: dict[str, list[str]], images: list[str], data: Path, out: Path, index: int
) -> None:
    """Predictions in `hashlens tag --json` form made from human caption `index`."""
    with open(out, "w", encoding="utf-8") as fh:
        for image in images:
            cap = human_caption(captions[image][index])
            result = PhotoResult(
                path=str(data / "images" / image), caption=cap, hashtags=suggest_hashtags(cap)
            )
            fh.write(json.dumps(result.to_json()) + "\n")


def _fmt(m: dict[str, float]) -> str:
    return f"precision@5 {m['precision@5']:.3f}  hit@5 {m['hit@5']:.3f}  (n={m['n']})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/datasets/flickr8k")
    ap.add_argument("--split", default="test", help="test, dev or train (default test)")
    ap.add_argument("--predictions", type=Path, help="JSONL from `hashlens tag --json`")
    ap.add_argument("--exclude-caption", type=int, default=None, metavar="N")
    ap.add_argument(
        "--write-standin",
        type=Path,
        metavar="FILE",
        help="write predictions made from human caption --standin-index, then exit",
    )
    ap.add_argument("--standin-index", type=int, default=0)
    ap.add_argument("--no-ceiling", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)

    start = time.time()
    captions = load_captions(args.data)
    images = [im for im in load_split(args.data, args.split) if im in captions]
    if args.write_standin:
        write_standin(captions, images, args.data, args.write_standin, args.standin_index)
        print(f"wrote {len(images)} stand-in predictions to {args.write_standin}")
        return 0

    report: dict[str, object] = {"split": args.split, "photos": len(images)}
    refs = [references(captions[im]) for im in images]
    report["mean_reference_tags"] = float(np.mean([len(r) for r in refs])) if refs else 0.0
    print(
        f"{args.split}: {len(images)} photos, {report['mean_reference_tags']:.2f} reference "
        f"tags per photo (mentioned by >= {MIN_MENTIONS} of 5 captions)"
    )
    if not args.no_ceiling:
        report["ceiling"] = ceiling(captions, images)
        print(f"ceiling (one human caption vs the other four): {_fmt(report['ceiling'])}")
    if args.predictions:
        preds = load_predictions(args.predictions)
        model = score_predictions(captions, images, preds, args.exclude_caption)
        report["model"] = model
        if "refs5" in model:
            print(f"model vs 5 captions: {_fmt(model['refs5'])}")
        label = (
            "4 captions"
            if args.exclude_caption is None
            else (f"the 4 captions other than #{args.exclude_caption}")
        )
        print(f"model vs {label}: {_fmt(model['refs4'])}")
        print(f"  missing {model['missing']}, failed {model['failed']}")
        if "ceiling" in report and report["ceiling"]["precision@5"]:
            ratio = model["refs4"]["precision@5"] / report["ceiling"]["precision@5"]
            report["precision_vs_ceiling"] = ratio
            print(f"  precision@5 / ceiling = {ratio:.2f} (goal >= 0.80); goal hit@5 >= 0.85")
    print(f"({time.time() - start:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
