"""Popular Instagram forms of a candidate (#dog -> #dogsofinstagram): only known words."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from desktop_app.results import HashtagSuggestion
from desktop_app.tagging import popularity as pop
from desktop_app.tagging.variants import (
    MUTE_REJECTIONS,
    listed_popular,
    parse_template,
    pluralize,
    popular_variants,
    template_feedback,
    templates,
    variant_bodies,
)


def cand(tag, score=0.9, source="caption", words=None):
    return HashtagSuggestion(tag, score, source, words=words or (tag.lstrip("#"),))


@dataclass
class Pref:  # the fields of library.store.TagPreference that matter here
    tag: str
    approvals: int = 0
    rejections: int = 0
    adds: int = 0
    removals: int = 0


def test_the_shipped_template_file_is_all_valid():
    lines = [ln for ln in (templates()) if ln]
    assert len(lines) >= 10
    assert {t.text for t in lines} >= {"{nouns}ofinstagram", "{noun}lover", "{noun}life",
                                       "{noun}photography", "insta{noun}"}


@pytest.mark.parametrize("line", ["lover", "{noun}{noun}", "{noun} lover", "{noun}-life", "{noun}"])
def test_a_bad_template_line_is_skipped(line):
    assert parse_template(line) is None


def test_plurals_for_the_ofinstagram_form():
    assert [pluralize(w) for w in ("dog", "puppy", "box", "man", "day")] == [
        "dogs", "puppies", "boxes", "men", "days"]


def test_variants_are_offered_only_for_words_people_are_known_to_use():
    made_up = parse_template("{noun}zzqx")
    assert variant_bodies("dog", forms=[made_up]) == []
    for noun in ("dog", "book", "street", "beach", "spoon"):
        for body, _t, why in variant_bodies(noun):
            assert pop.known(body) or body in listed_popular()
            assert why in ("wordfreq", "listed")
    stagram = parse_template("{noun}stagram")
    assert [b for b, *_ in variant_bodies("book", forms=[stagram])] == ["bookstagram"]  # wordfreq
    assert [b for b, *_ in variant_bodies("dog", forms=[stagram])] == ["dogstagram"]  # listed
    assert variant_bodies("spoon", forms=[stagram]) == []


def test_a_word_from_the_users_trending_list_counts_as_known():
    form = parse_template("{noun}vibes")
    assert variant_bodies("spoon", forms=[form]) == []
    assert [b for b, *_ in variant_bodies("spoon", ["spoonvibes"], forms=[form])] == ["spoonvibes"]


def test_dog_gets_dogsofinstagram_below_dog_with_source_popular():
    out = popular_variants([cand("#dog", 0.8)])
    tags = [s.tag for s in out]
    assert "#dogsofinstagram" in tags
    for s in out:
        assert s.source == "popular" and s.score < 0.8
        assert s.reason.startswith("a popular form of #dog")
        assert "popularity" in s.parts and s.parts["base"] == 0.8


def test_no_variant_repeats_a_candidate_and_the_number_is_bounded():
    base = [cand(f"#{w}") for w in ("dog", "cat", "beach", "book", "street", "food", "flower")]
    base.append(cand("#dogsofinstagram", 0.3))
    out = popular_variants(base, max_per_tag=2, max_total=6)
    assert len(out) <= 6
    assert "#dogsofinstagram" not in [s.tag for s in out]
    assert len({s.tag for s in out}) == len(out)


def test_only_the_models_own_tags_make_variants():
    assert popular_variants([cand("#dog", source="library"), cand("#cat", source="rule")]) == []


def test_a_phrase_gives_variants_of_its_head_noun():
    out = popular_variants([cand("#sandybeach", words=("sandy", "beach"))])
    assert "#beachlife" in [s.tag for s in out]


def test_rejecting_lover_tags_again_and_again_mutes_the_form():
    prefs = [Pref("#doglover", rejections=2), Pref("#booklover", rejections=MUTE_REJECTIONS - 2),
             Pref("#dog", approvals=5)]
    fb = template_feedback(prefs)
    assert fb["{noun}lover"].muted
    tags = [s.tag for s in popular_variants([cand("#cat")], feedback=fb, max_per_tag=5)]
    assert "#catlover" not in tags and "#catsofinstagram" in tags
    plain = [s.tag for s in popular_variants([cand("#cat")], max_per_tag=5)]
    assert "#catlover" in plain


def test_one_rejection_lowers_a_form_and_kept_ones_keep_it():
    fb = template_feedback([Pref("#doglover", rejections=1)])
    (low,) = [s for s in popular_variants([cand("#cat")], feedback=fb, max_per_tag=9,
                                          max_total=20)
              if s.tag == "#catlover"]
    assert low.parts["form_feedback"] < 1
    fb = template_feedback([Pref("#doglover", rejections=3, approvals=3)])
    assert not fb["{noun}lover"].muted
