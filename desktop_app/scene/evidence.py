"""SceneEvidence: what the detectors and the classifier say is (and is not) in one photo.

Per COCO class one figure, the strongest evidence for it: the object detector's best score,
or the ImageNet classifier's probability for the matching category (all dog breeds together
for "dog") times CLASSIFIER_WEIGHT. A class is *present* when the detector kept a box of it;
a caption word is *contradicted* when its class has almost no evidence while something else
was confidently seen (a giraffe, and no dog anywhere): an empty detector output contradicts
nothing, since the detector may simply have missed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from ..results import Detection, ImagenetGuess
from .classes import PERSON, Place, coco_classes

CLASSIFIER_WEIGHT = 0.8  # ImageNet was trained on other photos: its categories count less
ABSENT = 0.2  # below this a class is not in the photo as far as anyone can tell ...
STRONG = 0.45  # ... when something else was seen at least this surely by the detector,
CLASSIFIER_SURE = 0.5  # or, for animals, by the classifier sure of another animal (a leopard
# at 91 %: no dog). Only animals: its sure guess on a dog photo is often the ball or the sofa.
BIG = frozenset({"animal", "vehicle", "food", "furniture", "appliance", "electronic"})
IMAGENET_ANIMALS = 398  # ImageNet's classes 1..398 are animals (tench ... pufferfish)


@cache
def _imagenet_animals() -> frozenset[str]:
    from ..captioning.encoder import imagenet_labels

    return frozenset(imagenet_labels()[1 : IMAGENET_ANIMALS + 1])


def animal_category(imagenet_label: str) -> str | None:
    """The everyday category of an ImageNet animal class ("tabby" -> "cat", "leopard" ->
    "big cat"); None for a class that is not an animal."""
    if imagenet_label not in _imagenet_animals():
        return None
    from ..tagging.imagenet_tags import category_of

    return category_of(imagenet_label) or imagenet_label


def _imagenet_scores(guesses: Iterable[ImagenetGuess]) -> dict[str, float]:
    from ..tagging.imagenet_tags import category_of

    labels = coco_classes()
    out: Counter[str] = Counter()
    for g in guesses:
        cat = category_of(g.label)
        if cat in labels:
            out[cat] += float(g.prob)
    return {k: min(1.0, v) for k, v in out.items()}


@dataclass(frozen=True)
class SceneEvidence:
    objects: tuple[Detection, ...] = ()  # the detector's confident boxes
    faces: tuple[Detection, ...] = ()
    scores: Mapping[str, float] = field(default_factory=dict)  # class -> strongest evidence
    classifier_sure: str = ""  # the classifier's top class when it is sure of it ("leopard")
    imagenet: tuple[ImagenetGuess, ...] = ()

    @classmethod
    def build(cls, detections: Iterable[Detection], imagenet: Iterable[ImagenetGuess] = ()) -> SceneEvidence:
        """detections: objects and faces as the detectors kept them (PhotoResult.detections),
        so that the same evidence is rebuilt from a result when its tags are ranked again."""
        dets = tuple(detections)
        objects = tuple(d for d in dets if d.kind == "object")
        scores: dict[str, float] = {}
        for d in objects:
            scores[d.label] = max(scores.get(d.label, 0.0), float(d.score))
        guesses = tuple(imagenet)
        for label, p in _imagenet_scores(guesses).items():
            scores[label] = max(scores.get(label, 0.0), CLASSIFIER_WEIGHT * p)
        top = max(guesses, key=lambda g: g.prob, default=None)
        sure = top.label if top is not None and top.prob >= CLASSIFIER_SURE else ""
        return cls(objects, tuple(d for d in dets if d.kind == "face"), scores, sure, guesses)

    @property
    def empty(self) -> bool:
        """Nothing detected and nothing the classifier is sure of: nothing to ground on."""
        return not self.objects and not self.faces and not self.classifier_sure

    def count(self, label: str) -> int:
        return sum(1 for d in self.objects if d.label == label)

    def present(self) -> list[str]:
        """Classes with a confident box, most salient first (score x sqrt of the box's area)."""
        best: dict[str, float] = {}
        for d in self.objects:
            best[d.label] = max(best.get(d.label, 0.0), d.score * d.area ** 0.5)
        return sorted(best, key=lambda k: -best[k])

    def score(self, label: str) -> float:
        return float(self.scores.get(label, 0.0))

    def seen_surely(self, exclude: str = "") -> bool:
        """A big thing other than `exclude` (an animal, a vehicle, food, furniture ...) was
        surely detected: people and small things (a ball, a cup) prove nothing about the rest
        (a person and no dog detected: on Flickr8k the dog is as often just missed)."""
        classes = coco_classes()
        return any(d.score >= STRONG and d.label != exclude and classes[d.label].group in BIG
                   for d in self.objects)

    def _absent(self, label: str) -> bool:
        """No sign of a person or a big thing: what the tests below start from (people and
        big things only: detectors often miss a ball or a cup)."""
        classes = coco_classes()
        if label not in classes or self.score(label) >= ABSENT:
            return False
        return not self.faces if label == PERSON else classes[label].group in BIG

    def contradicts(self, label: str) -> bool:
        """True when the photo almost surely holds no `label` (see the module's docstring)."""
        if not self._absent(label):
            return False
        return self.seen_surely(exclude=label) or (
            label != PERSON and self._classifier_says_other(label))

    def unsupported(self, label: str) -> bool:
        """Neither detector box nor classifier speaks for a person or a big thing."""
        return self._absent(label)

    def doubts(self, label: str) -> bool:
        """The weaker test for a guess that did not come from the caption (the tag detector's
        #dog, a classifier category): no sign of `label` while the detector surely saw other
        things, people included."""
        if not self._absent(label):
            return False
        return self.contradicts(label) or any(d.score >= STRONG and d.label != label for d in self.objects)

    def other_animal_seen(self, imagenet_label: str) -> bool:
        """The detector surely saw an animal, and the classifier's animal class is another
        one ("leopard" on the giraffe the detector found)."""
        category = animal_category(imagenet_label)
        seen = {d.label for d in self.objects if d.score >= STRONG and coco_classes()[d.label].group == "animal"}
        return category is not None and bool(seen) and category not in seen

    def _classifier_says_other(self, label: str) -> bool:
        """The classifier is sure of an animal other than `label` (an animal)."""
        if coco_classes()[label].group != "animal":
            return False
        category = animal_category(self.classifier_sure) if self.classifier_sure else None
        return category is not None and category != label

    def place_support(self, place: Place, classifier: bool = True) -> tuple[float, list[int], list[str]]:
        """How surely the photo is of `place` (#kitchen: an oven, a fridge; places.tsv): the
        noisy-OR of its boxes' scores times their class's weight, and, with `classifier`, of
        the classifier's classes of that place times CLASSIFIER_WEIGHT. Returns that, the
        boxes (indices into objects) and what pointed there, the surest first."""
        miss, boxes, why = 1.0, [], {}
        for i, d in enumerate(self.objects):
            w = place.classes.get(d.label, 0.0)
            if w:
                miss *= 1.0 - w * d.score
                boxes.append(i)
                why[d.label] = max(why.get(d.label, 0.0), w * d.score)
        for g in self.imagenet if classifier else ():
            if g.label in place.imagenet:
                miss *= 1.0 - CLASSIFIER_WEIGHT * g.prob
                why[g.label] = max(why.get(g.label, 0.0), CLASSIFIER_WEIGHT * g.prob)
        return 1.0 - miss, boxes, sorted(why, key=lambda k: -why[k])

    def boxes_of(self, label: str) -> list[int]:
        """Indices into `objects` of the boxes of a class."""
        return [i for i, d in enumerate(self.objects) if d.label == label]
