"""How popular a hashtag is, offline: a figure in 0..1 from `wordfreq`.

wordfreq's English list is built partly from Twitter and Reddit, so besides ordinary words it
knows a few joined social-media forms (#foodporn, #travelgram, #bookstagram, #instagood). Its
data ships inside the package (CC-BY-SA 4.0), so nothing is fetched. The figure comes from the
Zipf frequency of the tag's body as one word ("#dogsofinstagram" -> "dogsofinstagram"):

    Zipf 1 (once per 100 million words, the floor of wordfreq's list) -> 0.0
    Zipf 7 ("the", "and")                                              -> 1.0

and is linear between. Zipf 0 means wordfreq has never seen the word: the tag may still be used
on Instagram, but there is no evidence, so its figure is 0.0. It measures how common the word
is in social and general text, not how many Instagram posts carry it; it is a prior, not a
count. Without wordfreq installed every figure is None and nothing else breaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

from ..results import HashtagSuggestion
from .rules import _zipf, tag_key  # _zipf: the one lazy wordfreq import (tests patch it here too)

ZIPF_FLOOR = 1.0
ZIPF_TOP = 7.0
BROAD = 0.6  # Zipf 4.6 and up: dog, beach, sunset is 0.51 (medium)
NICHE = 0.35  # below Zipf 3.1: skateboard, teddybear, foodporn
TIERS = ("broad", "medium", "niche")




def available() -> bool:
    """Whether popularity figures can be computed (wordfreq is installed)."""
    return _zipf() is not None


@lru_cache(maxsize=65536)
def zipf(body: str) -> float | None:
    """wordfreq's Zipf frequency of `body` as one English word; None without wordfreq.

    The body must be one token to wordfreq (letters and digits): "dogsofinstagram", not
    "dogs of instagram", which wordfreq would estimate from its three words.
    """
    fn = _zipf()
    if fn is None:
        return None
    body = tag_key(body)
    if not body:
        return 0.0
    try:
        return float(fn(body, "en"))
    except Exception:  # noqa: BLE001 - a data problem in an optional prior must not stop tagging
        return 0.0


def from_zipf(value: float) -> float:
    """A Zipf value mapped to 0..1 (see the module docstring)."""
    if value <= 0:
        return 0.0
    return min(1.0, max(0.0, (value - ZIPF_FLOOR) / (ZIPF_TOP - ZIPF_FLOOR)))


def popularity(tag: str) -> float | None:
    """0..1 for a tag ("#dog", "#teddy_bear", "dogsofinstagram"); None without wordfreq."""
    value = zipf(tag_key(tag))
    return None if value is None else round(from_zipf(value), 4)


def known(body: str, min_zipf: float = ZIPF_FLOOR) -> bool:
    """Whether wordfreq knows `body` as a word at least this common. False without wordfreq:
    no data, no claim that a made-up word is used."""
    value = zipf(body)
    return value is not None and value > 0 and value >= min_zipf


def tier(value: float | None) -> str | None:
    """"broad", "medium" or "niche"; None when the figure is unknown."""
    if value is None:
        return None
    if value >= BROAD:
        return "broad"
    if value >= NICHE:
        return "medium"
    return "niche"


def describe(value: float | None) -> str:
    """"popularity 68% (broad)" for a tooltip; "" without wordfreq."""
    if value is None:
        return ""
    if value <= 0:
        return "popularity unknown (not in the word-frequency data)"
    return f"popularity {round(value * 100)}% ({tier(value)})"


def annotate(suggestions: Iterable[HashtagSuggestion]) -> list[HashtagSuggestion]:
    """Copies with parts["popularity"] and the figure appended to the reason.

    The GUI's chip tooltip shows `reason`, so the figure is visible there. Unchanged copies
    when wordfreq is missing.
    """
    out = []
    for s in suggestions:
        value = popularity(s.tag)
        if value is None:
            out.append(replace(s, parts=dict(s.parts)))
            continue
        note = describe(value)
        reason = s.reason if note in s.reason else (f"{s.reason}; {note}" if s.reason else note)
        out.append(replace(s, parts={**s.parts, "popularity": value}, reason=reason))
    return out
