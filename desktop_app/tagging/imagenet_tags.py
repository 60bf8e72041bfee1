"""Hashtag candidates from the ImageNet head's top classes.

Class names come in several spellings: "golden retriever", "Golden Retriever",
"tabby, tabby cat" (synonyms after commas), "handrail / baluster", "red wolf or maned wolf",
"kite (bird of prey)". Each class gives

* a label tag from its first usable name (#goldenretriever, #tabby), and
* a category tag when resources/tagging/imagenet_categories.txt maps it (#dog, #cat).

A category collects the probability of every top class that maps to it (five dog breeds at
15% each are a confident #dog), so it is the more robust of the two; it is also what lets the
classifier confirm a caption word ("a dog ..." + "Golden Retriever").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ..results import ImagenetGuess
from .rules import _lines, clean_word, is_function_word, is_poor_noun, words_key

_PAREN = re.compile(r"\(([^)]*)\)")
_ALTERNATIVES = re.compile(r"\s*(?:,|/|\bor\b)\s*")
_MAX_LABEL_WORDS = 3


@dataclass
class ImagenetCandidate:
    """A tag the ImageNet head suggests: a class name or the category it belongs to."""

    words: tuple[str, ...]
    kind: str  # "label" or "category"
    prob: float  # the class probability (summed over classes for a category)
    labels: list[str] = field(default_factory=list)  # the class names behind it

    @property
    def key(self) -> str:
        return words_key(self.words)


def label_names(label: str) -> tuple[list[str], list[str]]:
    """("Kite (bird of prey)") -> (["kite"], ["bird of prey"]): the names, then the hints."""
    hints = [h.strip().lower() for h in _PAREN.findall(label)]
    text = _PAREN.sub(" ", label).lower()
    names = [" ".join(n.split()) for n in _ALTERNATIVES.split(text)]
    return [n for n in names if n], [h for h in hints if h]


def _name_words(name: str) -> tuple[str, ...]:
    """Words of a class name in tag form: "t-shirt" -> ("tshirt",), "potter's wheel" ->
    ("potters", "wheel")."""
    return tuple(w for w in (clean_word(part) for part in name.split()) if w)


@lru_cache(maxsize=1)
def category_keywords() -> dict[str, str]:
    """keyword -> category, from resources/tagging/imagenet_categories.txt."""
    table: dict[str, str] = {}
    for line in _lines("imagenet_categories.txt"):
        if ":" not in line:
            continue
        category, keywords = line.split(":", 1)
        category = category.strip()
        table.setdefault(category, category)
        for keyword in keywords.split(","):
            keyword = " ".join(keyword.split())
            if keyword:
                table.setdefault(keyword, category)
    return table


def category_of(label: str) -> str | None:
    """The everyday category of an ImageNet class ("Golden Retriever" -> "dog"), if known.

    Multiword names are tried before single words, so "Cardigan, Cardigan Welsh corgi" is a
    dog while the sweater "cardigan" is not. The category "-" in the file means "none".
    """
    category = _category_of(label)
    return None if category == "-" else category


def _category_of(label: str) -> str | None:
    table = category_keywords()
    names, hints = label_names(label)
    multi = [n for n in names if len(n.split()) > 1]
    single = [n for n in names if len(n.split()) == 1]
    for name in multi:
        if name in table:
            return table[name]
    for name in multi:
        last = name.split()[-1]
        if last in table:
            return table[last]
    for hint in hints:
        for word in reversed(hint.split()):
            if word in table:
                return table[word]
    for name in single:
        if name in table:
            return table[name]
    return None


def label_words(label: str) -> tuple[str, ...] | None:
    """The words of the tag for a class: its first name that makes a good tag."""
    names, _ = label_names(label)
    for name in names:
        words = _name_words(name)
        if not words or len(words) > _MAX_LABEL_WORDS:
            continue
        if any(is_function_word(w) for w in words) or (len(words) == 1 and is_poor_noun(words[0])):
            continue
        return words
    return None


def imagenet_candidates(
    guesses: Iterable[ImagenetGuess], min_prob: float = 0.02
) -> list[ImagenetCandidate]:
    """Label and category candidates, most probable first (categories merged by name)."""
    by_key: dict[tuple[str, str], ImagenetCandidate] = {}
    for guess in guesses:
        prob = float(guess.prob)
        if not (prob >= min_prob) or not guess.label:
            continue
        words = label_words(guess.label)
        if words:
            key = ("label", "".join(words))
            if key in by_key:
                by_key[key].prob = max(by_key[key].prob, prob)
                by_key[key].labels.append(guess.label)
            else:
                by_key[key] = ImagenetCandidate(words, "label", prob, [guess.label])
        category = category_of(guess.label)
        if category:
            key = ("category", category)
            if key in by_key:
                by_key[key].prob = min(1.0, by_key[key].prob + prob)
                by_key[key].labels.append(guess.label)
            else:
                by_key[key] = ImagenetCandidate((category,), "category", prob, [guess.label])
    return sorted(by_key.values(), key=lambda c: -c.prob)
