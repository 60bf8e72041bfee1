"""Plural folding and ImageNet class names."""

from __future__ import annotations

import pytest

from desktop_app.tagging.imagenet_tags import category_of, label_words
from desktop_app.tagging.rules import singularize


@pytest.mark.parametrize(
    "plural, singular",
    [
        ("dogs", "dog"),
        ("puppies", "puppy"),
        ("boxes", "box"),
        ("horses", "horse"),
        ("buses", "bus"),
        ("dresses", "dress"),
        ("men", "man"),
        ("children", "child"),
        ("leaves", "leaf"),
        ("waves", "wave"),
        ("toes", "toe"),
        ("shoes", "shoe"),
        ("jeans", "jeans"),
        ("people", "people"),
        ("glasses", "glasses"),
        ("grass", "grass"),
        ("movies", "movie"),
    ],
)
def test_singularize(plural, singular):
    assert singularize(plural) == singular


@pytest.mark.parametrize(
    "label, words, category",
    [
        ("golden retriever", ("golden", "retriever"), "dog"),
        ("Golden Retriever", ("golden", "retriever"), "dog"),
        ("tabby, tabby cat", ("tabby",), "cat"),
        ("espresso", ("espresso",), None),
        ("kite (bird of prey)", ("kite",), "bird"),
        ("T-shirt", ("tshirt",), "shirt"),
        ("Cardigan, Cardigan Welsh corgi", ("cardigan",), "dog"),
        ("cardigan", ("cardigan",), None),
        ("sea lion", ("sea", "lion"), None),
        ("Black and Tan Coonhound", None, "dog"),
    ],
)
def test_imagenet_labels(label, words, category):
    assert label_words(label) == words
    assert category_of(label) == category


@pytest.mark.parametrize(
    "plural, singular",
    [("dogs", "dog"), ("buses", "bus"), ("horses", "horse"), ("movies", "movie"), ("boxes", "box")],
)
def test_singularize_without_wordfreq(monkeypatch, plural, singular):
    from desktop_app.tagging import rules

    monkeypatch.setattr(rules, "_zipf", lambda: None)
    rules.singularize.cache_clear()
    try:
        assert rules.singularize(plural) == singular
    finally:
        rules.singularize.cache_clear()
