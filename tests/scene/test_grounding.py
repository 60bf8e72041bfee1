"""The caption follows what the detectors saw: no phantom dogs, no man on a toilet photo."""

from __future__ import annotations

import numpy as np

from desktop_app.results import Detection
from desktop_app.scene.evidence import SceneEvidence
from desktop_app.scene.grounding import ground_caption, plain_sentence, word_bias

from ..tagging.conftest import make_caption

GIRAFFE = Detection("object", "giraffe", 0.8, (0.55, 0.1, 0.95, 0.9))


def obj(label: str, score: float = 0.8, box=(0.1, 0.1, 0.5, 0.5)) -> Detection:
    return Detection("object", label, score, box)


def test_a_phantom_dog_becomes_the_giraffe_the_detector_saw():
    cap = make_caption("a dog is running through the grass", probs={"dog": 0.6})
    out = ground_caption(cap, SceneEvidence.build([GIRAFFE]))
    assert out.caption == "a giraffe is running through the grass"
    assert out.source == "grounded" and out.original == cap.caption
    # The new word is as sure as the detector, and its attention lies on the giraffe's box.
    i = out.tokens.index("giraffe")
    assert out.token_probs[i] == 0.8
    grid = out.attention_map(i)
    peak_row, peak_col = np.unravel_index(np.argmax(grid), grid.shape)
    assert peak_col / 7 >= 0.5, "attention of the replaced word must fall inside the giraffe's box"
    assert np.isclose(out.attention[i].sum(), 1.0)


def test_plurals_and_articles_follow_the_replacement():
    cap = make_caption("two dogs play with an elephant")
    ev = SceneEvidence.build([obj("giraffe"), obj("giraffe", box=(0.5, 0.5, 0.9, 0.9)), obj("elephant")])
    assert ground_caption(cap, ev).caption == "two giraffes play with an elephant"
    cap = make_caption("a dog sits on the grass")
    assert ground_caption(cap, SceneEvidence.build([obj("elephant")])).caption.startswith("an elephant")


def test_a_caption_about_someone_who_is_not_there_becomes_a_plain_sentence():
    cap = make_caption("a man in a red shirt is playing in a green toy")
    ev = SceneEvidence.build([obj("toilet"), obj("sink", 0.7, (0.6, 0.2, 0.9, 0.5))])
    out = ground_caption(cap, ev)
    assert out.caption == "a bathroom with a toilet and a sink"
    assert out.source == "detections" and out.original == cap.caption
    assert len(out.tokens) == len(out.token_probs) == out.attention.shape[0]
    assert out.confidence < 0.8  # its own words are guesses, and it says so


def test_captions_the_detectors_agree_with_or_cannot_judge_stay_as_they_are():
    cap = make_caption("a black dog is running on the beach")
    assert ground_caption(cap, SceneEvidence.build([obj("dog")])) is cap
    assert ground_caption(cap, SceneEvidence.build([])) is cap  # a miss contradicts nothing
    # a weak detection of something else is no proof that there is no dog
    assert ground_caption(cap, SceneEvidence.build([obj("cat", 0.3)])) is cap
    # nor is a dog the classifier half believes in
    cap2 = make_caption("a black dog is running on the beach", imagenet=[("Labrador Retriever", 0.5)])
    assert ground_caption(cap2, SceneEvidence.build([obj("giraffe")], cap2.imagenet)) is cap2


def test_a_face_keeps_the_person_in_the_caption():
    cap = make_caption("a man is smiling")
    face = Detection("face", "face", 0.9, (0.3, 0.2, 0.6, 0.6))
    assert ground_caption(cap, SceneEvidence.build([obj("cup"), face])) is cap


def test_the_beam_is_nudged_towards_what_was_seen_and_away_from_what_was_not():
    stoi = {"a": 0, "dog": 1, "dogs": 2, "cat": 3, "grass": 4}
    bias = word_bias(SceneEvidence.build([obj("cat", 0.9)]), stoi, 5)
    assert bias[3] > 0 and bias[1] < 0 and bias[2] < 0 and bias[0] == 0 and bias[4] == 0


def test_plain_sentences_read_like_captions():
    def say(*dets):
        words = plain_sentence(SceneEvidence.build(list(dets)))
        return None if words is None else " ".join(w for w, _ in words)

    assert say(obj("giraffe"), obj("giraffe", box=(0.5, 0.5, 0.9, 0.9))) == "two giraffes standing in a field"
    assert say(obj("cat"), obj("laptop", box=(0.0, 0.5, 1.0, 1.0))) == "a cat sitting on a laptop"
    assert say(obj("person"), obj("tennis racket")) == "a person holding a tennis racket"
    assert say(obj("pizza"), obj("dining table", box=(0, 0, 1, 1))) == "a pizza on a table"
    assert say(obj("oven"), obj("refrigerator")) == "a kitchen with an oven and a refrigerator"
    assert say(obj("cup", 0.3)) is None  # nothing seen surely enough to say
