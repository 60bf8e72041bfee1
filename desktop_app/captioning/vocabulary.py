"""Caption text <-> token ids. Captions are lowercased and kept to letters only."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
_WORD = re.compile(r"[a-z]+")


def tokenize(caption: str) -> list[str]:
    """'A dog runs, fast .' -> ['a', 'dog', 'runs', 'fast'] (lowercase letters only)."""
    return _WORD.findall(caption.lower())


class Vocabulary:
    """Word <-> id mapping with four specials at ids 0..3 (pad, start, end, unk)."""

    def __init__(self, words: Iterable[str]):
        self.itos: list[str] = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    pad_id, start_id, end_id, unk_id = 0, 1, 2, 3

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 5) -> Vocabulary:
        """Words seen at least min_count times; the rest become <unk>. Ordered by frequency."""
        counts = Counter(w for c in captions for w in tokenize(c))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def encode(self, caption: str, max_len: int) -> list[int]:
        """<start> w1 .. wn <end>, truncated to max_len words."""
        ids = [self.stoi.get(w, self.unk_id) for w in tokenize(caption)[:max_len]]
        return [self.start_id, *ids, self.end_id]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> words, stopping at <end> and dropping the other specials."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return out

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"words": self.itos[len(SPECIALS):]}, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["words"])
