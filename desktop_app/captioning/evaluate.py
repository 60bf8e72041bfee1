"""`hashlens evaluate`: caption a dataset split with a bundle and score it (BLEU-1..4,
ROUGE-L, CIDEr; METEOR when Java is present). Photos are read through the app's own loader,
exactly as `hashlens tag` reads them."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from ..imaging import load_for_model
from .datasets import load_dataset


def caption_split(captioner, paths: list[Path], beam: int, batch_size: int = 32):
    """Captions (CaptionResult) for photo files, batched; prints progress to stderr."""
    results = []
    t0 = time.perf_counter()
    for lo in range(0, len(paths), batch_size):
        batch = np.stack([load_for_model(p)[0] for p in paths[lo : lo + batch_size]])
        results += captioner.caption_batch(batch, beam=beam)
        rate = len(results) / (time.perf_counter() - t0)
        sys.stderr.write(f"\r{len(results)}/{len(paths)} photos, {rate:.1f}/s   ")
        sys.stderr.flush()
    sys.stderr.write("\n")
    return results


def run_evaluation(args) -> int:
    from . import load_captioner
    from .bundle import default_bundle_path, write_checksums
    from .metrics import score_captions

    ds = load_dataset(args.data)
    ids = ds.split(args.split)
    if args.limit:
        ids = ids[: args.limit]
    captioner = load_captioner(args.model)
    results = caption_split(captioner, [ds.images[i] for i in ids], args.beam)
    hyps = {i: r.caption for i, r in zip(ids, results, strict=True)}
    scores = score_captions({i: ds.captions[i] for i in ids}, hyps, meteor=True)
    report = {"split": args.split, "photos": len(ids), "beam": args.beam,
              "model_version": captioner.version, "scores": {k: round(v, 2) for k, v in scores.items()}}
    print(json.dumps(report, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps({**report, "captions": hyps}, indent=2), encoding="utf-8")
    if args.update_card:
        bundle = Path(args.model) if args.model else default_bundle_path()
        card = bundle / "MODEL_CARD.md"
        text = card.read_text(encoding="utf-8") if card.exists() else "# Model card\n"
        marker = f"<!-- scores:{args.split}:beam{args.beam} -->"
        table = (f"{marker}\n| split | photos | beam | " + " | ".join(report["scores"]) + " |\n"
                 + "|---" * (3 + len(report["scores"])) + "|\n"
                 + f"| {args.split} | {len(ids)} | {args.beam} | "
                 + " | ".join(f"{v:.1f}" for v in report["scores"].values()) + " |\n" + marker)
        if marker in text:
            head, _, rest = text.partition(marker)
            _, _, tail = rest.partition(marker)
            text = head + table + tail
        else:
            text = text.rstrip() + "\n\n" + table + "\n"
        card.write_text(text, encoding="utf-8")
        write_checksums(bundle)
    return 0
