"""The text pasted into an Instagram post: approved hashtags, after a caption the user approved.

Pure functions: the window's post panel and "Copy post", `hashlens export --format instagram`
and the .txt export all format through here, so they agree. A caption reaches a post only when
the user approved the model's or wrote their own (the callers pass only such captions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ..results import MAX_HASHTAGS

KEEP_STATES = frozenset({"approved", "added"})


def clean_tags(tags: Iterable[str], limit: int = MAX_HASHTAGS) -> list[str]:
    """'#'-prefixed, de-duplicated (case-insensitively, first wins) and at most `limit` tags."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        body = (raw or "").strip().lstrip("#").strip()
        if not body or any(ch.isspace() for ch in body):
            continue
        key = body.casefold()
        if key in seen:
            continue
        seen.add(key)
        out.append("#" + body)
        if len(out) >= limit:
            break
    return out


def kept_tags(decisions: Mapping[str, str], order: Sequence[str] = ()) -> list[str]:
    """The approved and hand-added tags of a photo; tags in `order` first, in that order.

    `decisions` is TagLibrary.decisions_for(): tag -> 'approved' | 'added' | 'rejected' | 'removed'.
    """
    kept = [t for t, state in decisions.items() if state in KEEP_STATES]
    ranked = [t for t in order if t in kept]
    return ranked + [t for t in kept if t not in ranked]


def instagram_text(
    tags: Iterable[str],
    caption: str | None = None,
    with_caption: bool = False,
    limit: int = MAX_HASHTAGS,
) -> str:
    """'#a #b #c', or 'Caption.\\n\\n#a #b #c' with the caption (sentence-cased, full stop).

    With no tags and a caption asked for, just the caption; with neither, ''.
    """
    line = " ".join(clean_tags(tags, limit))
    text = caption_sentence(caption) if with_caption and caption else ""
    if text and line:
        return f"{text}\n\n{line}"
    return text or line


def caption_sentence(caption: str) -> str:
    """'a teddy bear on a bed' -> 'A teddy bear on a bed.' (model captions are lower case)."""
    text = " ".join(caption.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


class PostRow(Protocol):
    """One photo's post (export.csv_txt.ExportRow is one): where it is, its caption, its tags."""

    path: str
    caption: str | None
    tags: list[str]


def instagram_posts(rows: Iterable[PostRow], with_caption: bool = True) -> str:
    """Several photos' posts: one block per photo, its file name on the first line, then the
    caption line (when there is one) and the hashtags; one blank line between blocks, none
    inside. Photos without approved hashtags are left out (the caller says which). A single
    photo gives just its post, ready to paste."""
    posts = [r for r in rows if clean_tags(r.tags)]
    if len(posts) == 1:
        r = posts[0]
        return instagram_text(r.tags, r.caption, with_caption) + "\n"
    blocks = []
    for r in posts:
        lines = [Path(r.path).name]
        if with_caption and r.caption and caption_sentence(r.caption):
            lines.append(caption_sentence(r.caption))
        lines.append(" ".join(clean_tags(r.tags)))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
