"""Popularity figures from wordfreq: what a user sees in the tooltip and the export mix."""

from __future__ import annotations

import pytest

from desktop_app.results import HashtagSuggestion
from desktop_app.tagging import popularity as pop


@pytest.fixture
def no_wordfreq(monkeypatch):
    """As if wordfreq were not installed."""
    pop.zipf.cache_clear()
    monkeypatch.setattr(pop, "_zipf", lambda: None)
    yield
    pop.zipf.cache_clear()


def test_everyday_words_are_more_popular_than_rare_ones():
    dog, skate, nonsense = (pop.popularity(t) for t in ("#dog", "#skateboard", "#qzxvwplk"))
    assert 0 < skate < dog <= 1
    assert nonsense == 0.0


def test_a_social_media_word_is_known_and_a_made_up_join_is_not():
    assert pop.known("instagood") and pop.known("foodporn")
    assert not pop.known("spoonsofinstagramzz")


def test_style_and_case_do_not_change_the_figure():
    assert pop.popularity("#Teddy_Bear") == pop.popularity("#teddybear") == pop.popularity("teddybear")


def test_tiers_broad_medium_niche():
    assert pop.tier(pop.popularity("#dog")) == "broad"
    assert pop.tier(pop.popularity("#sunset")) == "medium"
    assert pop.tier(pop.popularity("#teddybear")) == "niche"
    assert pop.tier(None) is None


def test_annotate_adds_the_figure_to_parts_and_reason_without_changing_the_input():
    s = HashtagSuggestion("#dog", 0.9, "caption", parts={"model": 0.9}, reason='from the caption: "dog"')
    (out,) = pop.annotate([s])
    assert out.parts["popularity"] == pop.popularity("#dog") and out.parts["model"] == 0.9
    assert out.reason.startswith('from the caption: "dog"; popularity ') and "(broad)" in out.reason
    assert s.parts == {"model": 0.9} and "popularity" not in s.reason
    (again,) = pop.annotate([out])  # annotating twice does not repeat the note
    assert again.reason == out.reason


def test_an_unknown_word_says_so_rather_than_zero_percent():
    (out,) = pop.annotate([HashtagSuggestion("#qzxvwplk", 0.5, "caption")])
    assert out.parts["popularity"] == 0.0 and "unknown" in out.reason


def test_without_wordfreq_there_is_no_figure_and_nothing_breaks(no_wordfreq):
    assert not pop.available()
    assert pop.popularity("#dog") is None
    assert not pop.known("dog")
    s = HashtagSuggestion("#dog", 0.9, "caption", parts={"model": 0.9}, reason="r")
    (out,) = pop.annotate([s])
    assert out.parts == {"model": 0.9} and out.reason == "r"
