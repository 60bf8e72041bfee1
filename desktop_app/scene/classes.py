"""The COCO classes the object detector knows (resources/scene/coco_classes.tsv)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..paths import resources_dir

PERSON = "person"


@dataclass(frozen=True)
class CocoClass:
    label: str  # the detector's name: "tennis racket"
    group: str  # COCO's supercategory: animal, food, vehicle, ...
    tag: tuple[str, ...]  # the hashtag's words (empty: no tag of its own, e.g. person)
    words: frozenset[str]  # caption words that name it ("dog", "dogs", "puppy")
    plural: str
    setting: str  # where a plain sentence puts it ("standing in a field"), "" if nowhere

    def noun(self, n: int) -> str:
        return self.label if n == 1 else self.plural


def _rows(name: str) -> list[list[str]]:
    """The data rows of resources/scene/NAME: tab-separated, after the comments and header."""
    text = (resources_dir() / "scene" / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")][1:]


def article(word: str) -> str:
    """ "a" or "an" before a word ("an oven", "a giraffe")."""
    return "an" if word[:1] in "aeiou" else "a"


@cache
def coco_classes() -> dict[str, CocoClass]:
    """label -> CocoClass, in the file's order."""
    out: dict[str, CocoClass] = {}
    for label, group, tag, words, plural, setting in _rows("coco_classes.tsv"):
        out[label] = CocoClass(
            label=label, group=group,
            tag=() if tag == "-" else tuple(tag.split()),
            words=frozenset() if words == "-" else frozenset(words.split()),
            plural=plural, setting="" if setting == "-" else setting)
    return out


@cache
def class_of_word() -> dict[str, str]:
    """caption word -> class label ("puppy" -> "dog"); a word of several classes names none."""
    seen: dict[str, set[str]] = {}
    for c in coco_classes().values():
        for w in c.words:
            seen.setdefault(w, set()).add(c.label)
    return {w: next(iter(labels)) for w, labels in seen.items() if len(labels) == 1}


@dataclass(frozen=True)
class Place:
    """A tag the things in a photo point to together (resources/scene/places.tsv)."""

    tag: str
    classes: dict[str, float]  # COCO class -> how far it points here (1.0 fully)
    imagenet: frozenset[str]


@cache
def places() -> tuple[Place, ...]:
    out = []
    for tag, members, imagenet in _rows("places.tsv"):
        weights: dict[str, float] = {}
        for item in members.split(","):
            name, _, w = item.strip().partition(":")
            weights[name] = float(w) if w else 1.0
        out.append(Place(tag, weights, frozenset(imagenet.split("|"))))
    return tuple(out)
