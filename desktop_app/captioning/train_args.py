"""`hashlens train` arguments (kept apart so --help needs no TensorFlow)."""

from __future__ import annotations

import argparse

from .config import DecoderConfig, TrainConfig

_T = TrainConfig()
_D = DecoderConfig(vocab_size=0)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR",
                   help="Flickr8k-layout folder (captions.tsv, splits/, images/) or COCO dataset_coco.json")
    p.add_argument("--images", metavar="DIR", help="image root for COCO json (default: beside the json)")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="where the trained bundle is written")
    p.add_argument("--epochs", type=int, default=_T.epochs)
    p.add_argument("--batch-size", type=int, default=_T.batch_size)
    p.add_argument("--lr", type=float, default=_T.learning_rate, help="Adam learning rate")
    p.add_argument("--lr-decay", type=float, default=_T.lr_decay, help="learning-rate factor per epoch")
    p.add_argument("--alpha-c", type=float, default=_T.alpha_c, help="doubly stochastic attention weight")
    p.add_argument("--init", metavar="BUNDLE",
                   help="fine-tune from this bundle's weights (its vocabulary and sizes are kept)")
    p.add_argument("--attention-boxes", metavar="FILE",
                   help="train each object word's attention onto these boxes (build_scripts/attention_boxes.py)")
    p.add_argument("--attention-weight", type=float, default=_T.attention_weight,
                   help="weight of that attention loss")
    p.add_argument("--label-smoothing", type=float, default=_T.label_smoothing)
    p.add_argument("--dropout", type=float, default=_D.dropout)
    p.add_argument("--embed-dim", type=int, default=_D.embed_dim)
    p.add_argument("--lstm-units", type=int, default=_D.lstm_units)
    p.add_argument("--attention-units", type=int, default=_D.attention_units)
    p.add_argument("--min-word-count", type=int, default=_T.min_word_count)
    p.add_argument("--max-len", type=int, default=_D.max_len, help="words per caption")
    p.add_argument("--patience", type=int, default=_T.patience, help="early stopping on dev BLEU-4")
    p.add_argument("--dev-images", type=int, default=_T.dev_images, help="dev photos scored per epoch (0 = all)")
    p.add_argument("--seed", type=int, default=_T.seed)
    p.add_argument("--cache", metavar="DIR", help="where encoder features are cached (default: user cache dir)")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="use only N training photos (for trials)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps in total (for trials)")
