"""Word sequences a caption must never contain ("a woman eating a baby"), from a reviewed list.

The captioner strings likely words together; at low confidence, on a photo unlike its training
photos, that can give a sentence no person would write and every user would remember. The
reviewed list `resources/captioning/never_after.tsv` names them as "after these words (and
optionally one of these), never these": `never_after(vocab)` turns it into contexts of token
ids that the beam search checks (`beam_search(never_after=...)`), so the decoder takes its
next-best words instead of cutting the caption afterwards.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..paths import resources_dir
from .vocabulary import Vocabulary

FILE = "never_after.tsv"


@cache
def _rules() -> tuple[tuple[frozenset[str], frozenset[str], frozenset[str]], ...]:
    from ..scene.classes import PERSON, coco_classes

    classes = coco_classes()
    groups = {"@people": set(classes[PERSON].words),
              "@animals": {w for c in classes.values() if c.group == "animal" for w in c.words}}
    rules = []
    text = (resources_dir() / "captioning" / FILE).read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        before, between, never = (line.split("\t") + ["", ""])[:3]
        words: set[str] = set()
        for w in never.split("|"):
            words |= groups.get(w, {w} if w and not w.startswith("@") else set())
        rules.append((frozenset(before.split("|")), frozenset(filter(None, between.split("|"))),
                      frozenset(words)))
    return tuple(rules)


class NeverAfter:
    """The list for one vocabulary: per word of a first column, its (words allowed between,
    ids that may not follow) pairs. Checked per beam row and step, so it stays a few lookups
    (the ~6,600 contexts of up to three words are never spelled out)."""

    def __init__(self, rules: dict[int, tuple[tuple[frozenset[int], np.ndarray], ...]]):
        self._rules = rules

    def __bool__(self) -> bool:
        return bool(self._rules)

    def banned(self, last: list[int]) -> np.ndarray | None:
        """The ids that may not follow a caption ending in `last` (its last three tokens or
        fewer); None when nothing is banned."""
        found = []
        for j in range(1, min(3, len(last)) + 1):
            for mids, ids in self._rules.get(last[-j], ()):
                if all(t in mids for t in last[len(last) - j + 1:]):
                    found.append(ids)
        if not found:
            return None
        return found[0] if len(found) == 1 else np.unique(np.concatenate(found))


def never_after(vocab: Vocabulary) -> NeverAfter:
    """The reviewed list in this vocabulary's ids: a word of the first column, then up to two
    of the second, and a word of the third may not come next."""
    ids = vocab.stoi
    rules: dict[int, list[tuple[frozenset[int], np.ndarray]]] = {}
    for before, between, never in _rules():
        banned = np.fromiter(sorted(ids[w] for w in never if w in ids), dtype=np.int64)
        if not banned.size:
            continue
        mids = frozenset(ids[w] for w in between if w in ids)
        for b in (ids[w] for w in before if w in ids):
            rules.setdefault(b, []).append((mids, banned))
    return NeverAfter({b: tuple(r) for b, r in rules.items()})
