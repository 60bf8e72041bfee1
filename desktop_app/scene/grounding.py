"""The caption follows what the detectors saw (issue 16: "no phantom dogs").

Two steps, both cheap:

1. word_bias: before decoding, the words of classes the detectors saw get a bonus and the
   words of classes they contradict a penalty, added to the decoder's log probabilities while
   the beam chooses (a soft form of constrained beam search, Anderson et al. 2017).
2. ground_caption: after decoding, a subject the detectors still contradict is replaced by
   the class they saw in its place, in the same group (a dog -> a giraffe: Neural Baby Talk's
   slot filling, Lu et al. 2018, by group instead of by attention region), which also covers
   classes the captioner has no word for (giraffe, zebra, sandwich). When there is no such
   class ("a man in a red shirt ..." on a toilet), or the caption is one the model itself
   doubts, a plain sentence is made from the detections ("a bathroom with a toilet and a sink").

A changed caption says so (CaptionResult.source, .original); its replaced words carry the
detector's score as their probability and the detected boxes as their attention, so the
caption's confidence and the attention view stay honest.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..captioning.attention_targets import cell_mask
from ..results import LOW_CONFIDENCE, CaptionResult, Detection
from .classes import PERSON, CocoClass, article, class_of_word, coco_classes, places
from .evidence import SceneEvidence

BOOST = 1.0  # log-probability bonus per unit of detector score for a seen class's words
PENALTY = 1.5  # log-probability penalty for the words of a contradicted class
SENTENCE_WORD_PROB = 0.3  # a plain sentence's own words ("standing in a field") are guesses,
# a room its objects name (a toilet: a bathroom) as sure as they are, "person" a poor tag
MIN_SENTENCE_SCORE = 0.4  # a plain sentence needs a subject seen at least this surely
# A caption less sure than this is replaced by a plain sentence when the detectors saw
# something surely and not its subject: an unsure caption is the captioner outside its world.
SENTENCE_BELOW = 0.3
NUMBERS = {2: "two", 3: "three"}
# The places of resources/scene/places.tsv a plain sentence can be about, as it writes them.
ROOMS = {"kitchen": "kitchen", "bathroom": "bathroom", "bedroom": "bedroom", "livingroom": "living room",
         "desk": "desk"}
RIDDEN = {"horse", "bicycle", "motorcycle", "skateboard", "surfboard", "snowboard", "skis", "boat"}
HELD = {"tennis racket", "baseball bat", "frisbee", "kite", "umbrella", "cell phone", "sports ball",
        "cup", "wine glass", "bottle", "teddy bear", "donut", "pizza", "sandwich", "hot dog", "banana"}
PERCH = {"couch", "bed", "chair", "laptop", "keyboard", "bench", "car", "suitcase", "dining table"}


def word_bias(evidence: SceneEvidence, stoi: dict[str, int], size: int) -> np.ndarray:
    """(size,) log-probability offsets for the decoder's vocabulary (see the docstring)."""
    bias = np.zeros(size, dtype=np.float32)
    for label, c in coco_classes().items():
        ids = [stoi[w] for w in c.words if w in stoi]
        if not ids:
            continue
        if evidence.contradicts(label):
            bias[ids] -= PENALTY
        elif evidence.count(label):
            bias[ids] += BOOST * evidence.score(label)
    return bias


def grounded_captions(caption_fn, vocab, detections: list[list[Detection]]
                      ) -> list[tuple[CaptionResult, tuple[Detection, ...]]]:
    """Captions that follow the detections, one (caption, detections kept) per photo.

    caption_fn(word_bias or None) -> [CaptionResult, ...] decodes the batch (from photos in
    the app, from cached features in the benchmarks); vocab: the captioner's (None: no bias)."""
    seen = [SceneEvidence.build(d) for d in detections]
    bias = None
    if vocab is not None and any(not e.empty for e in seen):
        bias = np.stack([word_bias(e, vocab.stoi, len(vocab)) for e in seen])
    out = []
    for cap, dets in zip(caption_fn(bias), detections, strict=True):
        evidence = SceneEvidence.build(dets, cap.imagenet)
        out.append((ground_caption(cap, evidence), evidence.objects + evidence.faces))
    return out


def _subject(c: CocoClass, n: int) -> list[str]:
    if c.label == PERSON:
        noun = "person" if n == 1 else "people"
    else:
        noun = c.noun(n)
    if n == 1:
        return [article(noun), *noun.split()]
    if n in NUMBERS:
        return [NUMBERS[n], *noun.split()]
    return ["a", "group", "of", *noun.split()]


def _room(evidence: SceneEvidence, present: list[str]) -> tuple[str, list[str]] | None:
    """The room the things seen point to most (an oven and a sink: a kitchen), with the two
    things that point there most; None when nothing seen belongs to a room."""
    best, chosen = 0.0, None
    for place in places():
        if place.tag not in ROOMS:
            continue
        p, _, why = evidence.place_support(place, classifier=False)
        inside = [label for label in why if label in present]
        if inside and p > best:
            best, chosen = p, (ROOMS[place.tag], inside[:2])
    return chosen


def _with(label: str) -> list[str]:
    return [article(label), *label.split()]


def plain_sentence(evidence: SceneEvidence) -> list[tuple[str, str | None]] | None:
    """A sentence made from the detections, as (word, class or None) pairs; None when nothing
    was seen surely enough to say."""
    present = [p for p in evidence.present() if evidence.score(p) >= MIN_SENTENCE_SCORE]
    if not present:
        return None
    classes = coco_classes()
    # What a person would name first: who is there, then food, then the room, then the rest.
    rank = {"person": 0, "animal": 0, "food": 1, "vehicle": 2}
    present.sort(key=lambda p: rank.get(classes[p].group, 3))
    main = present[0]
    others = [p for p in present if p != main]
    second = others[0] if others else None

    def tagged(words: list[str], label: str | None) -> list[tuple[str, str | None]]:
        if label is None or label == PERSON:
            return [(w, None) for w in words]
        return [(w, label if w in label.split() or w in classes[label].plural.split() else None)
                for w in words]

    if rank.get(classes[main].group, 3) > 1:
        room = _room(evidence, present)
        if room is not None:
            name, inside = room
            # the room is as sure as the things that name it (a toilet: a bathroom)
            out = [("a", None), *((w, inside[0]) for w in name.split()), ("with", None)]
            for i, label in enumerate(inside):
                out += ([("and", None)] if i else []) + tagged(_with(label), label)
            return out
    if main == "dining table" and second:
        return tagged(["a", "table", "with"], main) + tagged(_with(second), second)
    c = classes[main]
    out = tagged(_subject(c, max(1, evidence.count(main))), main)
    if main == PERSON:
        if not second:  # "a person standing outside" says less than any caption
            return None
        verb = "riding" if second in RIDDEN else "holding" if second in HELD else "with"
        return out + tagged([verb], None) + tagged(_with(second), second)
    if c.group == "animal" and second in PERCH:
        return out + tagged(["sitting", "on"], None) + tagged(_with(second), second)
    if second and classes[second].group == c.group and c.group in ("food", "kitchen", "vehicle"):
        return out + tagged(["and"], None) + tagged(_with(second), second)
    if c.group == "food" and "dining table" in present:
        return out + tagged(["on", "a", "table"], None)
    return out + tagged(c.setting.split(), None) if c.setting else out


def _box_row(evidence: SceneEvidence, label: str, grid: tuple[int, int]) -> np.ndarray:
    """Attention over the grid cells inside the class's boxes (attention_targets.cell_mask),
    each box's cells weighted by its score, for a word the detectors put there."""
    mask = np.zeros(grid[0] * grid[1], dtype=np.float32)
    for i in evidence.boxes_of(label):
        d = evidence.objects[i]
        mask[cell_mask([d.box], grid)] += d.score
    if mask.sum() <= 0:
        mask[:] = 1.0
    return mask / mask.sum()


def _uniform(grid: tuple[int, int]) -> np.ndarray:
    n = max(1, grid[0] * grid[1])
    return np.full(n, 1.0 / n, dtype=np.float32)


def _from_sentence(caption: CaptionResult, words: list[tuple[str, str | None]],
                   evidence: SceneEvidence) -> CaptionResult:
    grid = caption.grid if caption.grid[0] * caption.grid[1] > 0 else (7, 7)
    tokens = tuple(w for w, _ in words)
    probs = tuple(evidence.score(label) if label else SENTENCE_WORD_PROB for _, label in words)
    att = np.stack([_box_row(evidence, label, grid) if label else _uniform(grid) for _, label in words])
    return replace(caption, caption=" ".join(tokens), tokens=tokens, token_probs=probs,
                   attention=att.astype(np.float32), grid=grid,
                   log_prob=float(sum(math.log(max(p, 1e-6)) for p in probs)),
                   source="detections", original=caption.caption, alternatives=(),
                   boxed_words=tuple(i for i, (_, label) in enumerate(words) if label))


def _replacement(label: str, evidence: SceneEvidence, mentioned: set[str]) -> str | None:
    group = coco_classes()[label].group
    for p in evidence.present():
        if p != label and p not in mentioned and coco_classes()[p].group == group:
            return p
    return None


def _is_plural(word: str, c: CocoClass) -> bool:
    return word in c.plural.split() or (word.endswith("s") and word not in c.label.split())


def ground_caption(caption: CaptionResult, evidence: SceneEvidence) -> CaptionResult:
    """The caption with what the detectors contradict replaced (see the module docstring);
    unchanged when they saw nothing or agree."""
    if evidence.empty or not caption.tokens:
        return caption
    names = class_of_word()
    spans = [(i, names[t]) for i, t in enumerate(caption.tokens) if t in names]
    mentioned = {label for _, label in spans}
    wrong = [(i, label) for i, label in spans if evidence.contradicts(label)]
    # An unsure caption whose subject the detectors confirm ("a man ..." and a person) keeps
    # its own words: they say more than a plain sentence would.
    confirmed = (bool(spans) and evidence.count(spans[0][1]) > 0
                 and caption.confidence >= LOW_CONFIDENCE)  # (not a word salad's "toilet")
    doubted = bool(caption.token_probs) and caption.confidence < SENTENCE_BELOW and not confirmed
    if not wrong and not doubted:
        return caption
    subject_wrong = bool(wrong) and wrong[0][0] == spans[0][0]
    fixes: dict[int, str] = {}
    for i, label in wrong:
        new = _replacement(label, evidence, mentioned | set(fixes.values()))
        if new is None:
            break
        fixes[i] = new
    if doubted or (subject_wrong and len(fixes) < len(wrong)):
        sentence = plain_sentence(evidence)
        return caption if sentence is None else _from_sentence(caption, sentence, evidence)
    if not fixes:
        return caption
    return _replace_words(caption, fixes, evidence)


def _replace_words(caption: CaptionResult, fixes: dict[int, str], evidence: SceneEvidence) -> CaptionResult:
    classes = coco_classes()
    names = class_of_word()
    words: list[tuple[str, str | None]] = []
    probs: list[float] = []
    att_rows: list[np.ndarray] = []
    att = np.asarray(caption.attention, dtype=np.float32)
    usable = att.ndim == 2 and att.shape[0] == len(caption.tokens) and att.shape[1] > 0
    grid = caption.grid
    for i, tok in enumerate(caption.tokens):
        p = caption.token_probs[i] if i < len(caption.token_probs) else 1.0
        row = att[i] if usable else None
        if i in fixes:
            c, old = classes[fixes[i]], classes[names[tok]]
            new = c.noun(2 if _is_plural(tok, old) else 1).split()
            if words and words[-1][0] in ("a", "an"):
                words[-1] = (article(new[0]), None)
            for w in new:
                words.append((w, c.label))
                probs.append(evidence.score(c.label))
                att_rows.append(_box_row(evidence, c.label, grid) if usable else None)
            continue
        words.append((tok, None))
        probs.append(p)
        att_rows.append(row)
    tokens = tuple(w for w, _ in words)
    attention = np.stack(att_rows).astype(np.float32) if usable else caption.attention
    return replace(caption, caption=" ".join(tokens), tokens=tokens, token_probs=tuple(probs),
                   attention=attention, source="grounded", original=caption.caption,
                   log_prob=caption.log_prob,
                   boxed_words=tuple(i for i, (_, label) in enumerate(words) if label))
