"""Attention targets: the grid cells a word that names a detected object should attend to."""

import json

import numpy as np
import pytest

from desktop_app.captioning.attention_targets import (
    build_targets,
    caption_targets,
    cell_mask,
    read_boxes,
    word_classes,
)
from desktop_app.captioning.vocabulary import Vocabulary
from desktop_app.errors import HashlensError


def test_cells_whose_centre_lies_in_the_box():
    mask = cell_mask([(0.0, 0.0, 0.5, 0.5)], (4, 4)).reshape(4, 4)
    assert mask[:2, :2].all() and mask.sum() == 4  # the top-left quarter, nothing else


def test_a_box_smaller_than_a_cell_takes_the_cell_under_its_centre():
    mask = cell_mask([(0.80, 0.10, 0.84, 0.14)], (7, 7)).reshape(7, 7)
    assert mask.sum() == 1 and mask[0, 5]


def test_only_words_that_name_a_detected_class_get_a_target():
    vocab = Vocabulary("a dog man runs on the grass".split())
    classes = word_classes(vocab, {"dog": "dog", "man": "person", "puppy": "dog"})
    tokens = np.array(vocab.encode("a man runs on the grass", 10))
    found = {"person": [(0.5, 0.0, 1.0, 1.0)]}
    t = caption_targets(tokens, found, classes, (2, 2))
    assert t.shape == (len(tokens) - 1, 4)
    words = [vocab.itos[i] for i in tokens[1:]]
    assert [w for w, row in zip(words, t, strict=True) if row.any()] == ["man"]
    assert t[words.index("man")].tolist() == [0, 1, 0, 1]  # the right half
    # the dog was not detected: "dog" gets no target in a caption that says it
    t2 = caption_targets(np.array(vocab.encode("a dog on the grass", 10)), found, classes, (2, 2))
    assert not t2.any()


def test_targets_for_a_training_set_follow_each_captions_photo():
    vocab = Vocabulary("a dog man".split())
    tokens = np.array([vocab.encode("a dog", 4) + [0, 0], vocab.encode("a man", 4) + [0, 0]])
    boxes = {"p1": {"dog": [(0.0, 0.0, 0.5, 1.0)]}, "p2": {}}
    t = build_targets(np.array([0, 1]), tokens, ["p1", "p2"], boxes, vocab, (1, 2))
    assert t.shape == (2, tokens.shape[1] - 1, 2)
    assert t[0, 1].tolist() == [1, 0] and not t[1].any()


def test_an_unreadable_boxes_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "boxes.json"
    bad.write_text("{not json")
    with pytest.raises(HashlensError, match="cannot read attention boxes"):
        read_boxes(bad)
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"boxes": {"p": {"dog": [[0, 0, 1, 1]]}}}))
    assert read_boxes(good) == {"p": {"dog": [(0.0, 0.0, 1.0, 1.0)]}}
