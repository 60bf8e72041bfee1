"""One photo of the batch and the post it makes: plain data the window shows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from ..export.instagram import KEEP_STATES, caption_sentence, clean_tags, instagram_text, kept_tags
from ..results import MAX_HASHTAGS, CaptionResult, PhotoResult


class Status(StrEnum):
    QUEUED = "queued"
    TAGGING = "tagging"
    READY = "ready"
    APPROVED = "approved"
    ERROR = "error"


# What a decision turns a tag into, before the library has answered.
STATE_OF = {"approve": "approved", "reject": "rejected", "add": "added", "remove": "removed"}


@dataclass
class Photo:
    """One photo of the current batch and everything the review knows about it."""

    path: Path
    status: Status = Status.QUEUED
    result: PhotoResult | None = None
    error: str | None = None
    caption: str | None = None  # the caption as shown (edited by the user, or the model's)
    edited: bool = False  # the user rewrote the model's caption
    caption_approved: bool = False  # the caption goes in the post (approved, or written by the user)
    decisions: dict[str, str] = field(default_factory=dict)  # tag -> state, as the library has it
    order: list[str] = field(default_factory=list)  # the user's chip order
    ranked_at: int = 0  # how many decisions the library had learned when its tags were ranked
    pending: int = 0  # decisions sent to the library, not yet recorded

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def digest(self) -> str:
        return self.result.content_hash if self.result is not None else ""

    @property
    def taggable(self) -> bool:
        """Captioned: its hashtags can be decided on."""
        return self.result is not None and self.result.ok and self.result.caption is not None

    def kept(self) -> list[str]:
        return kept_tags(self.decisions, self.order)

    def touched(self) -> bool:
        """The user decided on a tag or reordered the chips: its order is theirs now."""
        return bool(self.decisions or self.order)

    def post_caption(self) -> str | None:
        """The caption that goes in the post: only one the user approved or wrote."""
        return self.caption if self.caption and self.caption_approved else None

    def settle_status(self) -> None:
        if self.result is not None and self.result.ok:
            self.status = Status.APPROVED if self.kept() else Status.READY


@dataclass(frozen=True)
class Post:
    """The post as it will be pasted: the caption line (if approved or written) and the tags."""

    caption: str  # sentence-cased, "" when none
    tags: tuple[str, ...]  # at most MAX_HASHTAGS, in the user's order
    approved: int  # tags approved in all (may be over the limit)
    left_out: tuple[str, ...] = ()  # approved beyond the limit: not pasted

    @property
    def text(self) -> str:
        return instagram_text(self.tags, self.caption or None, with_caption=True)

    @property
    def over(self) -> int:
        return max(0, self.approved - MAX_HASHTAGS)

    def counter(self) -> str:
        """'12 / 30 hashtags', or '34 approved: the first 30 go in the post'."""
        if self.over:
            return f"{self.approved} approved: the first {MAX_HASHTAGS} go in the post"
        return f"{len(self.tags)} / {MAX_HASHTAGS} hashtags"


def post_of(photo: Photo | None, with_caption: bool = True) -> Post:
    if photo is None:
        return Post("", (), 0)
    kept = photo.kept()
    cap = photo.post_caption() if with_caption else None
    tags = tuple(clean_tags(kept))
    every = clean_tags(kept, limit=len(kept) + 1)
    return Post(caption_sentence(cap) if cap else "", tags, len(kept), tuple(every[len(tags):]))


def chip_tags(suggested: Iterable[str], decisions: Mapping[str, str], order: Sequence[str] = ()) -> list[str]:
    """The chips as shown: the user's order first, then the ranking, then the tags they added."""
    tags = list(dict.fromkeys(suggested))
    tags += [t for t, s in decisions.items() if t not in tags and s in KEEP_STATES]
    known = [t for t in dict.fromkeys(order) if t in tags]
    return known + [t for t in tags if t not in known]


def plural(n: int, noun: str, many: str | None = None) -> str:
    """'1 photo', '12 photos' (never 'photo(s)')."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def edited_caption(old: CaptionResult, text: str) -> CaptionResult:
    """A CaptionResult for a caption the user typed.

    Words that were in the model's caption keep their attention rows (first unused
    occurrence); new words get a flat row, which the panel shows as "no attention map".
    """
    from dataclasses import replace

    tokens = tuple(text.lower().split())
    att = np.asarray(old.attention, dtype=np.float32)
    cells = att.shape[1] if att.ndim == 2 else old.grid[0] * old.grid[1]
    used: set[int] = set()
    rows, probs = [], []
    for tok in tokens:
        j = next((k for k, t in enumerate(old.tokens) if t == tok and k not in used and k < len(att)), None)
        if j is None:
            rows.append(np.full(cells, 1.0 / cells, np.float32))
            probs.append(1.0)
        else:
            used.add(j)
            rows.append(att[j])
            probs.append(float(old.token_probs[j]) if j < len(old.token_probs) else 1.0)
    return replace(
        old,
        caption=" ".join(tokens),
        tokens=tokens,
        token_probs=tuple(probs),
        attention=np.stack(rows) if rows else np.zeros((0, cells), np.float32),
    )


__all__ = ["KEEP_STATES", "Photo", "Post", "STATE_OF", "Status", "chip_tags", "edited_caption", "plural", "post_of"]
