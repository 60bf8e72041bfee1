"""Hashtag candidates from the object and face detectors, and the one arbitration of sources.

* objects: every class the detector kept a box of gives its tag (#giraffe, #pizza), scored by
  the detector's confidence; several of a kind say so in the reason ("3 giraffes").
* faces: #selfie (one face filling the frame), #portrait (one clear face), #groupphoto
  (three or more faces). Boxes only: nothing about who anyone is.
* arbitration: a candidate from any other source (caption, runner-up captions, classifier,
  tag detector) whose noun names a COCO class the detectors contradict (see
  scene.evidence; a guess from the tag detector or the classifier is doubted more readily
  than a caption word: SceneEvidence.doubts) is demoted to CONTRADICTED of its score; one that names a class they saw
  gains the detector's support (noisy-OR) and points at its boxes, so hovering #dog outlines
  the dog. The popular forms (#dogsofinstagram) are built afterwards from the surviving scores
  (variants.py), so they follow only a subject that survives.
"""

from __future__ import annotations

from functools import cache

from ..scene.classes import PERSON, article, class_of_word, coco_classes, places
from ..scene.evidence import SceneEvidence
from .rules import clean_word, words_key
from .scoring import clamp, noisy_or, specificity

OBJECT_WEIGHT = 0.9  # a detected class's tag: its detector score x this
OBJECT_SUPPORT = 0.7  # what a detection adds to another source's same tag (noisy-OR)
CONTRADICTED = 0.1  # what is left of a candidate whose subject the detectors contradict ...
DROP_BELOW = 0.1  # ... and below this it is dropped (it would only fill an empty top five)
UNSUPPORTED_MIN = 0.2  # a weak guess of a person or a big thing that neither the detector nor
# the classifier supports is dropped too (a #dog at 9 % on a photo where nothing saw a dog)
FACE_WEIGHT = 0.08  # face tags: a guess about how the photo was taken, after its subjects
# A thing people name covers some of the photo: a class whose boxes together cover less than
# SALIENT_AREA counts less (by the square root of the share), as a cup at the edge of a street.
SALIENT_AREA = 0.15
PLACE_WEIGHT = 0.8  # #kitchen from an oven and a fridge: a step further from what was seen
PLACE_MIN = 0.2  # a place needs at least this much evidence to be offered
CROWD = 3  # this many people boxes make #people ...
CROWD_WEIGHT = 0.3  # ... a weak tag: people seldom write it (6 of 70 right on Flickr8k dev)
SELFIE_AREA, PORTRAIT_AREA, GROUP_FACES = 0.10, 0.03, 3


def salience(detections) -> float:
    return min(1.0, (sum(d.area for d in detections) / SALIENT_AREA) ** 0.5)


@cache
def _class_of_tag() -> dict[str, str]:
    """A class's own hashtag key ("teddybear") -> its label (the first class in the file's
    order that has it); built once, not per candidate."""
    out: dict[str, str] = {}
    for c in coco_classes().values():
        if c.tag:
            out.setdefault(words_key(c.tag), c.label)
    return out


def _head_class(words: tuple[str, ...]) -> str | None:
    """The COCO class a tag's words name: its head ("blackdog" -> dog), or the whole tag."""
    names = class_of_word()
    for w in (words[-1], *words):
        w = clean_word(w)
        if w in names:
            return names[w]
    return _class_of_tag().get(words_key(words))


def detected_tags(evidence: SceneEvidence) -> list[tuple[tuple[str, ...], float, str, list[int]]]:
    """(tag words, score, reason, box indices) for the detections, best first."""
    out = []
    classes = coco_classes()
    for label in evidence.present():
        c = classes[label]
        n = evidence.count(label)
        boxes = evidence.boxes_of(label)
        best = max(evidence.objects[i].score for i in boxes)
        weight = OBJECT_WEIGHT * best * salience([evidence.objects[i] for i in boxes])
        if c.label == PERSON:
            if n >= CROWD:
                out.append((("people",), CROWD_WEIGHT * weight * specificity(("people",)),
                            f"seen in the photo: {n} people ({best:.0%})", boxes))
            continue
        if not c.tag:
            continue
        what = f"{n} {c.plural}" if n > 1 else f"{article(c.label)} {c.label}"
        out.append((c.tag, weight * specificity(c.tag),
                     f"seen in the photo: {what} ({best:.0%})", boxes))
    out += place_tags(evidence)
    n_objects = len(evidence.objects)
    faces = evidence.faces
    first = n_objects  # faces follow the objects in PhotoResult.detections
    if len(faces) == 1:
        area, score = faces[0].area, faces[0].score
        if area >= SELFIE_AREA:
            out.append((("selfie",), FACE_WEIGHT * score, "one face fills the frame", [first]))
        elif area >= PORTRAIT_AREA:
            out.append((("portrait",), FACE_WEIGHT * score, "one clear face", [first]))
    elif len(faces) >= GROUP_FACES:
        score = sum(f.score for f in faces) / len(faces)
        out.append((("groupphoto",), FACE_WEIGHT * score, f"{len(faces)} faces",
                    list(range(first, first + len(faces)))))
    return sorted(out, key=lambda t: -t[1])


def place_tags(evidence: SceneEvidence) -> list[tuple[tuple[str, ...], float, str, list[int]]]:
    """#kitchen, #bathroom, #food ...: the things detected and the classifier's classes that
    point there together (SceneEvidence.place_support), see resources/scene/places.tsv."""
    out = []
    for place in places():
        p, boxes, why = evidence.place_support(place)
        if p >= PLACE_MIN:
            out.append(((place.tag,), PLACE_WEIGHT * p, f"a {place.tag} by what is in it: {', '.join(why[:3])}",
                        boxes))
    return out


def _demote(cand, reason: str) -> bool:
    """Demote a candidate the evidence speaks against; True when it is too weak to keep."""
    cand.score *= CONTRADICTED
    cand.parts["contradicted"] = 1.0
    cand.reason += f"; {reason}"
    return cand.score < DROP_BELOW


def arbitrate(cands: list, evidence: SceneEvidence, make) -> list:
    """Fold the detections into the other sources' candidates (see the module docstring).
    `make(words, score, reason, boxes)` builds a new candidate of source "objects"."""
    by_key = {c.key: c for c in cands}
    for words, score, reason, boxes in detected_tags(evidence):
        key = words_key(words)
        same = by_key.get(key)
        if same is None:
            new = make(words, clamp(score), reason, boxes)
            cands.append(new)
            by_key[key] = new
            continue
        same.parts["objects"] = round(score, 6)
        same.score = clamp(noisy_or(same.score, OBJECT_SUPPORT * score / OBJECT_WEIGHT))
        same.reason += f"; {reason}"
        same.boxes = boxes
    dropped = set()
    for cand in cands:
        if cand.source == "objects" or "objects" in cand.parts:
            continue
        if cand.source == "imagenet" and cand.support and all(evidence.other_animal_seen(x) for x in cand.support):
            if _demote(cand, "but the detector saw another animal"):
                dropped.add(cand.key)
            continue
        label = _head_class(cand.words)
        if label is None:
            continue
        if evidence.contradicts(label) if cand.source == "caption" else evidence.doubts(label):
            if _demote(cand, f"but the detectors saw no {label} in the photo"):
                dropped.add(cand.key)
        elif evidence.unsupported(label) and cand.score < UNSUPPORTED_MIN:
            dropped.add(cand.key)
        elif evidence.count(label):
            cand.boxes = evidence.boxes_of(label)
    return [c for c in cands if c.key not in dropped]
