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


def never_after(vocab: Vocabulary) -> dict[tuple[int, ...], np.ndarray]:
    """A context of 1-3 token ids (a word of the first column, then up to two of the second)
    -> the ids that may not come next, for this vocabulary."""
    ids = vocab.stoi
    out: dict[tuple[int, ...], set[int]] = {}
    for before, between, never in _rules():
        banned = {ids[w] for w in never if w in ids}
        if not banned:
            continue
        mids = [ids[w] for w in between if w in ids]
        for b in (ids[w] for w in before if w in ids):
            out.setdefault((b,), set()).update(banned)
            for m in mids:
                out.setdefault((b, m), set()).update(banned)
                for m2 in mids:
                    out.setdefault((b, m, m2), set()).update(banned)
    return {k: np.fromiter(sorted(v), dtype=np.int64) for k, v in out.items()}
