"""Where the decoder should look when it says an object's name: attention targets for training.

The attention of a plain Show-Attend-Tell decoder is learned only through the words it helps
predict, and ours ended up spread thin: the peak of "dog" fell on the dog in 0.44 of the COCO
sample's object words (chance 0.33). Supervising it (as in "Attention Correctness in Neural
Image Captioning", Liu et al. 2017, which used human boxes) pulls the attention of a word that
names a COCO class onto that class's boxes. Flickr8k has no boxes, so ours come from the
shipped object detector run on the training photos (`build_scripts/attention_boxes.py`); a word
whose class the detector did not find in the photo gets no target.

A target is the set of grid cells whose centres lie inside one of the class's boxes (the cell
under a box's centre when none does): the same cells the pointing game counts as a hit.
Boxes are fractions of the photo, and the encoder squashes the whole photo onto its grid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import HashlensError
from .vocabulary import Vocabulary

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of the photo


def cell_mask(boxes: Sequence[Box], grid: tuple[int, int]) -> np.ndarray:
    """(H*W,) bool: the cells whose centre lies in any of the boxes."""
    h, w = grid
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        inside = np.outer((ys >= y0) & (ys <= y1), (xs >= x0) & (xs <= x1))
        if not inside.any():  # a box smaller than a cell: the cell under its centre
            r = min(h - 1, int((y0 + y1) / 2 * h))
            c = min(w - 1, int((x0 + x1) / 2 * w))
            inside[r, c] = True
        mask |= inside
    return mask.reshape(-1)


def word_classes(vocab: Vocabulary, class_of_word: Mapping[str, str]) -> dict[int, str]:
    """Vocabulary id -> the COCO class the word names ("puppy" -> "dog")."""
    return {i: class_of_word[w] for i, w in enumerate(vocab.itos) if w in class_of_word}


def caption_targets(tokens: np.ndarray, boxes_by_class: Mapping[str, Sequence[Box]],
                    classes: Mapping[int, str], grid: tuple[int, int]) -> np.ndarray:
    """tokens (T,) of one caption incl. <start> -> (T-1, H*W) uint8: for each predicted token
    (tokens[1:]), the cells its attention should fall on; a zero row where it has no target."""
    out = np.zeros((len(tokens) - 1, grid[0] * grid[1]), np.uint8)
    masks: dict[str, np.ndarray] = {}
    for t, tok in enumerate(tokens[1:]):
        label = classes.get(int(tok))
        if label is None or not boxes_by_class.get(label):
            continue
        if label not in masks:
            masks[label] = cell_mask(boxes_by_class[label], grid)
        out[t] = masks[label]
    return out


def build_targets(img_idx: np.ndarray, tokens: np.ndarray, image_ids: Sequence[str],
                  boxes: Mapping[str, Mapping[str, Sequence[Box]]], vocab: Vocabulary,
                  grid: tuple[int, int]) -> np.ndarray:
    """Targets for every training caption: (C, width-1, H*W) uint8, aligned with the tokens
    the decoder predicts (`tokens[:, 1:]`)."""
    from ..scene.classes import class_of_word

    classes = word_classes(vocab, class_of_word())
    out = np.zeros((len(tokens), tokens.shape[1] - 1, grid[0] * grid[1]), np.uint8)
    for k, (i, row) in enumerate(zip(img_idx, tokens, strict=True)):
        found = boxes.get(image_ids[int(i)])
        if found:
            out[k] = caption_targets(row, found, classes, grid)
    return out


def read_boxes(path: str | Path) -> dict[str, dict[str, list[Box]]]:
    """The file `build_scripts/attention_boxes.py` writes: image id -> class -> boxes."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return {image: {label: [tuple(map(float, b)) for b in found] for label, found in classes.items()}
                for image, classes in doc["boxes"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HashlensError(f"cannot read attention boxes from {path}: {exc}") from None
