"""Beyond the caption's own words: popular variants and trending tags join the model's
candidates, and every candidate gets its popularity figure.

    extend_candidates(model_candidates, caption_tokens, ...) -> candidates, best first
    extend_for_photo(model_candidates, result, history, folder)  (what Pipeline.candidates calls)

The additions are bounded (variants.MAX_TOTAL, trends.MAX_TRENDING) and score below what they
come from, so the caption's own tags still lead. The library ranks them like any other
candidate, so a user's rejections of, say, #doglover weigh on it; per-form feedback
(variants.template_feedback) carries that over to #catlover.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ..results import HashtagSuggestion
from . import popularity as pop
from .rules import tag_key
from .trends import MAX_TRENDING, TrendList, TrendStore, trending_suggestions
from .variants import TemplateFeedback, popular_variants, template_feedback

log = logging.getLogger(__name__)


def extend_candidates(
    candidates: Sequence[HashtagSuggestion],
    caption_tokens: Sequence[str] = (),
    *,
    approved: Iterable[str] = (),
    active_trends: Mapping[str, TrendList] | None = None,
    known_extra: Iterable[str] = (),
    feedback: Mapping[str, TemplateFeedback] | None = None,
) -> list[HashtagSuggestion]:
    """The model's candidates plus popular variants and related trending tags, each with
    parts["popularity"] (when wordfreq is installed), best score first (ties keep order).

    The inputs are not modified.
    """
    approved = list(approved)
    active = dict(active_trends or {})
    known = set(known_extra) | {tag_key(t) for t in active}
    variants = popular_variants(candidates, known, feedback)
    # Trending tags that match a candidate or variant come back in `already`, not in `trending`.
    trending, already = trending_suggestions(
        active, list(candidates) + variants, caption_tokens, approved, limit=MAX_TRENDING
    )
    out: list[HashtagSuggestion] = []
    for c in [*candidates, *variants]:
        trend = already.get(c.tag)
        if trend is not None:
            note = f"trending now (your list of {trend.date})"
            if c.source == "popular":  # the user's own list is the stronger reason
                c = replace(c, source="trending", parts={**c.parts, "trending": 1.0},
                            reason=f"{note}; {c.reason}")
            else:
                c = replace(c, parts={**c.parts, "trending": 1.0},
                            reason=f"{c.reason}; {note}" if c.reason else note)
        out.append(c)
    out.extend(trending)
    ranked = sorted(enumerate(pop.annotate(out)), key=lambda ic: (-ic[1].score, ic[0]))
    return [c for _, c in ranked]


# -- the pipeline's side: where the lists and the user's history come from --------------------

_lock = threading.Lock()
_stores: dict[Path, TrendStore] = {}


class History(Protocol):
    """What extend_for_photo needs of the user's history (library.store.TagHistory): plain
    data, read by the library (which knows when it changed), never a library to reach into."""

    kept_here: Sequence[str]  # the tags kept on this photo
    preferences: Sequence  # TagPreference-like: tag, approvals, adds, rejections, removals


def _store(folder: Path) -> TrendStore:
    with _lock:
        store = _stores.get(folder)
        if store is None:
            store = _stores[folder] = TrendStore(folder)
        return store


_last: tuple[Sequence, frozenset[str], dict[str, TemplateFeedback]] | None = None


def _from_preferences(preferences: Sequence) -> tuple[frozenset[str], dict[str, TemplateFeedback]]:
    """The tags the user keeps (known to be used) and the per-form feedback. The library hands
    out the same preferences object until something changed, so the last answer is kept for
    it (held, so the object cannot be mistaken for a new one)."""
    global _last
    with _lock:
        last = _last
    if last is not None and last[0] is preferences:
        return last[1], last[2]
    known = frozenset(tag_key(p.tag) for p in preferences if p.approvals + p.adds > 0)
    feedback = template_feedback(preferences)
    with _lock:
        _last = (preferences, known, feedback)
    return known, feedback


def trends_folder(library=None, library_dir: str | os.PathLike | None = None) -> Path:
    """Where trends.json lives: the open library's folder, else the data folder."""
    path = getattr(library, "path", None)
    if path is not None:
        return Path(path).parent
    from ..paths import data_dir

    return data_dir(library_dir)


def extend_for_photo(
    candidates: Sequence[HashtagSuggestion],
    result,
    history: History | None = None,
    folder: str | os.PathLike | None = None,
) -> list[HashtagSuggestion]:
    """extend_candidates for one PhotoResult, with the user's trending lists (from `folder`)
    and, given the user's `history` (TagLibrary.tag_history), the photo's kept tags and the
    per-form feedback.

    Never fails the photo: an unreadable trends file is logged and left out.
    """
    caption = getattr(result, "caption", None)
    tokens = tuple(caption.tokens) if caption is not None else ()
    active: dict[str, TrendList] = {}
    if folder is not None:
        try:
            active = _store(Path(folder)).active()
        except Exception as exc:  # noqa: BLE001 - trending lists are optional extras
            log.warning("trending lists left out: %s", exc)
    approved: list[str] = []
    known: frozenset[str] = frozenset()
    feedback: dict[str, TemplateFeedback] = {}
    if history is not None:
        approved = list(history.kept_here)
        known, feedback = _from_preferences(history.preferences)
    return extend_candidates(
        candidates, tokens, approved=approved, active_trends=active, known_extra=known,
        feedback=feedback,
    )
