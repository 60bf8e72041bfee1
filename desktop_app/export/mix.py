"""A mix of broad, medium and niche hashtags within Instagram's 30-tag limit.

Common advice: a few very popular tags (#dog: many posts, but yours sinks fast), many medium
ones, and some niche ones (#goldenretrieverpuppy: fewer posts, a more interested audience). When
a photo has more approved tags than fit, `mix_tags` keeps a balance (SHARES) instead of the
first 30; the tags keep the user's order. With 30 or fewer, all are kept as they are.

The popularity of each tag comes in as a function or a mapping (tagging/popularity.py's
`popularity` by default: 0..1, None when unknown). A tag of unknown popularity counts as niche.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..tagging.popularity import TIERS, tier
from .instagram import MAX_HASHTAGS, clean_tags

SHARES = {"broad": 0.3, "medium": 0.4, "niche": 0.3}


@dataclass
class Mix:
    """The chosen tags (the user's order) and how many of each tier; `dropped` did not fit."""

    tags: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """"9 broad, 12 medium, 9 niche"."""
        return ", ".join(f"{self.counts.get(t, 0)} {t}" for t in TIERS)


def tier_of(value: float | None) -> str:
    """popularity.tier, with an unknown popularity counted as niche."""
    return tier(value) or "niche"


def quotas(limit: int, shares: Mapping[str, float] = SHARES) -> dict[str, int]:
    """Slots per tier for `limit` tags (rounded; the remainder goes to medium)."""
    total = sum(max(0.0, shares.get(t, 0.0)) for t in TIERS) or 1.0
    out = {t: int(limit * max(0.0, shares.get(t, 0.0)) / total) for t in TIERS}
    out["medium"] += limit - sum(out.values())
    return out


def mix_tags(
    tags: Sequence[str],
    popularity: Callable[[str], float | None] | Mapping[str, float | None],
    limit: int = MAX_HASHTAGS,
    shares: Mapping[str, float] = SHARES,
) -> Mix:
    """Up to `limit` of `tags` with a balance of broad, medium and niche.

    Each tier gets its quota, earliest tags first; slots a tier cannot fill go to the other
    tiers' next tags in the user's order. The result keeps the user's order.
    """
    look = popularity.get if isinstance(popularity, Mapping) else popularity
    tags = clean_tags(tags, limit=10_000)
    tier_by_tag = {t: tier_of(look(t)) for t in tags}
    limit = max(0, int(limit))
    if len(tags) <= limit:
        chosen = set(tags)
    else:
        want = quotas(limit, shares)
        chosen = set()
        for name in TIERS:
            chosen.update([t for t in tags if tier_by_tag[t] == name][: want[name]])
        for t in tags:
            if len(chosen) >= limit:
                break
            chosen.add(t)
    kept = [t for t in tags if t in chosen]
    counts = {name: sum(1 for t in kept if tier_by_tag[t] == name) for name in TIERS}
    return Mix(kept, counts, [t for t in tags if t not in chosen])

