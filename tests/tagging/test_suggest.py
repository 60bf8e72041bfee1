"""What a user sees: the hashtags suggested for a caption."""

from __future__ import annotations

import re

import numpy as np
import pytest

from desktop_app.tagging import MAX_TAGS_PER_POST, suggest_hashtags

from .conftest import make_caption

INSTAGRAM = re.compile(r"^#[^\W_A-Z][^\WA-Z]*$")


def tags(result) -> list[str]:
    return [h.tag for h in result]


def test_girl_on_a_bed_with_a_teddy_bear(caption):
    got = tags(suggest_hashtags(caption("a little girl sitting on a bed with a teddy bear")))
    assert {"#littlegirl", "#bed", "#teddybear"} <= set(got)
    # nested phrases: the glued phrase is gone, and a teddy bear is no bear
    assert "#bedwithateddybear" not in got
    assert "#bear" not in got and "#teddy" not in got


def test_couple_of_people_never_gives_coupleofpeople(caption):
    got = tags(suggest_hashtags(caption("a couple of people standing next to each other")))
    assert "#coupleofpeople" not in got
    assert "#couple" not in got
    assert "#people" in got  # vague, but kept (ranked low), not silently dropped


@pytest.mark.parametrize("text", ["a the of and", "it is on the of a", "", "<unk> . ,"])
def test_only_stop_words_give_no_tags(caption, text):
    assert suggest_hashtags(caption(text)) == []


def test_tags_are_instagram_form_and_capped(caption):
    text = " and ".join(
        f"a {w}"
        for w in (
            "dog cat bird horse cow sheep goat duck bear lion "
            "tiger zebra apple pear plum lemon lime kiwi fig "
            "date car bus truck bike boat ship train plane "
            "tram van cab jeep"
        ).split()
    )
    result = suggest_hashtags(caption(text))
    assert len(result) == MAX_TAGS_PER_POST
    assert all(INSTAGRAM.match(t) for t in tags(result))
    assert len(suggest_hashtags(caption(text), limit=5)) == 5
    assert len(suggest_hashtags(caption(text), limit=100)) == MAX_TAGS_PER_POST


def test_plurals_fold_into_one_tag(caption):
    got = tags(suggest_hashtags(caption("two dogs and a dog play with puppies in the boxes")))
    assert "#dog" in got and "#dogs" not in got
    assert got.count("#dog") == 1
    assert "#puppy" in got and "#box" in got
    got = tags(suggest_hashtags(caption("three men in blue jeans and sunglasses")))
    assert {"#man", "#jeans", "#sunglasses"} <= set(got)


def test_underscored_style(caption):
    result = suggest_hashtags(caption("a little girl hugs a teddy bear"), style="underscored")
    assert {"#little_girl", "#teddy_bear", "#girl"} <= set(tags(result))
    with pytest.raises(ValueError):
        suggest_hashtags(caption("a dog"), style="camel")


def test_verbs_misread_as_nouns_make_no_tags(caption):
    got = tags(suggest_hashtags(caption("a black and white dog jumps over a hurdle")))
    assert {"#dog", "#hurdle"} <= set(got)
    assert not any("jump" in t for t in got)
    got = tags(suggest_hashtags(caption("a boy wearing sunglasses blows bubbles")))
    assert "#wearingsunglasses" not in got and "#sunglasses" in got
    got = tags(suggest_hashtags(caption("two brown dogs sniff in the grass")))
    assert "#dog" in got and not any("sniff" in t for t in got)


def test_colour_and_vague_tags_rank_lower(caption):
    result = suggest_hashtags(caption("people sitting on a bench near a man in a red shirt"))
    got = tags(result)
    assert "#redshirt" in got and "#people" in got
    assert got.index("#shirt") < got.index("#redshirt")
    assert got.index("#bench") < got.index("#people")


def test_each_tag_says_where_it_came_from(caption):
    cap = caption("a little girl sitting on a bed with a teddy bear")
    for h in suggest_hashtags(cap):
        assert 0.0 <= h.score <= 1.0
        assert h.source == "caption"
        assert tuple(cap.tokens[i] for i in h.token_indices) == h.words
        assert h.reason.startswith("from the caption")
        assert {"model", "specificity"} <= set(h.parts)
    teddy = next(h for h in suggest_hashtags(cap) if h.tag == "#teddybear")
    assert teddy.words == ("teddy", "bear") and teddy.token_indices == (9, 10)
    assert teddy.to_json()["tokens"] == [9, 10]


def test_decoder_confidence_orders_the_tags(caption):
    sure_dog = tags(suggest_hashtags(caption("a dog and a cat", probs={"dog": 0.9, "cat": 0.2})))
    sure_cat = tags(suggest_hashtags(caption("a dog and a cat", probs={"dog": 0.2, "cat": 0.9})))
    assert sure_dog[:2] == ["#dog", "#cat"]
    assert sure_cat[:2] == ["#cat", "#dog"]
    result = suggest_hashtags(caption("a dog and a cat", probs={"dog": 0.9, "cat": 0.2}))
    assert result[0].score > result[1].score


def test_peaked_attention_ranks_higher(caption):
    flat = np.full(49, 1 / 49)
    peaked = np.zeros(49)
    peaked[10] = 1.0
    att = np.stack([flat, flat, flat, flat, peaked])  # "a dog and a cat"
    got = tags(suggest_hashtags(caption("a dog and a cat", attention=att)))
    assert got[:2] == ["#cat", "#dog"]


def test_imagenet_classes_confirm_and_add_tags(caption):
    cap = caption(
        "a brown dog runs through the grass",
        probs={"dog": 0.5, "grass": 0.6},
        imagenet=[
            ("Golden Retriever", 0.55),
            ("Labrador Retriever", 0.3),
            ("tabby, tabby cat", 0.01),
        ],
    )
    result = suggest_hashtags(cap)
    by_tag = {h.tag: h for h in result}
    dog = by_tag["#dog"]
    assert dog.source == "caption" and dog.parts["imagenet"] > 0
    assert "classifier" in dog.reason
    assert tags(result)[0] == "#dog"  # agreement lifts it above the more confident #grass
    assert dog.score > dog.parts["model"]
    golden = by_tag["#goldenretriever"]
    assert golden.source == "imagenet" and golden.token_indices == ()
    assert "Golden Retriever" in golden.reason
    assert "#tabby" not in by_tag  # 1%: too unlikely to suggest


def test_imagenet_only(caption):
    result = suggest_hashtags(caption("a", imagenet=[("tabby, tabby cat", 0.6), ("espresso", 0.2)]))
    got = tags(result)
    assert {"#cat", "#tabby", "#espresso"} <= set(got)
    assert all(h.source == "imagenet" for h in result)
    assert got.index("#tabby") < got.index("#espresso")


def test_missing_probabilities_and_attention_are_tolerated(caption):
    cap = caption("a dog on a beach", probs=[], attention=np.zeros((0, 0)))
    assert {"#dog", "#beach"} <= set(tags(suggest_hashtags(cap)))


def test_a_long_run_of_nouns_gives_short_tags_only():
    from desktop_app.results import CaptionResult
    from desktop_app.tagging import suggest_hashtags

    tokens = tuple("a snowboarder skier uniformed bicyclist border on the beach".split())
    cap = CaptionResult(caption=" ".join(tokens), tokens=tokens, token_probs=(0.9,) * len(tokens),
                        attention=__import__("numpy").full((len(tokens), 49), 1 / 49), grid=(7, 7),
                        log_prob=-3.0)
    tags = [h.tag for h in suggest_hashtags(cap)]
    assert tags and "#beach" in tags
    assert all(len(h.words) <= 3 for h in suggest_hashtags(cap))


def test_runner_up_captions_add_tags_and_support():
    import numpy as np

    from desktop_app.results import AlternativeCaption, CaptionResult
    from desktop_app.tagging import suggest_hashtags

    tokens = tuple("a dog runs on the grass".split())
    alt = tuple("a dog runs with a ball".split())
    base = dict(caption=" ".join(tokens), tokens=tokens, token_probs=(0.8,) * 6,
                attention=np.full((6, 49), 1 / 49), grid=(7, 7), log_prob=-3.0)
    plain = {h.tag: h for h in suggest_hashtags(CaptionResult(**base))}
    richer = {h.tag: h for h in suggest_hashtags(CaptionResult(
        **base, alternatives=(AlternativeCaption(alt, (0.8,) * 6, weight=0.7),)))}
    assert "#ball" not in plain and "#ball" in richer
    assert "alternative caption" in richer["#ball"].reason
    assert richer["#ball"].score < richer["#grass"].score  # the best caption still leads
    assert richer["#dog"].score > plain["#dog"].score  # agreement raises confidence


def test_a_caption_the_model_doubts_gives_no_caption_tags():
    cap = make_caption("white dog is jumping", probs=[0.01] * 4, imagenet=[("espresso", 0.99)])
    tags = [h.tag for h in suggest_hashtags(cap)]
    assert tags[0] == "#espresso" and "#dog" not in tags
