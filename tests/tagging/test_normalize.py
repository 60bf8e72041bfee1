"""Hand-typed tags in Instagram form."""

from __future__ import annotations

import pytest

from desktop_app.tagging import normalize_tag


@pytest.mark.parametrize(
    "text, joined, underscored",
    [
        ("Teddy Bear!", "#teddybear", "#teddy_bear"),
        ("#teddy_bear", "#teddybear", "#teddy_bear"),
        ("  #Dog  ", "#dog", "#dog"),
        ("rock-climbing", "#rockclimbing", "#rock_climbing"),
        ("don't stop", "#dontstop", "#dont_stop"),
        ("#dogsofinstagram", "#dogsofinstagram", "#dogsofinstagram"),
        ("Café au lait", "#caféaulait", "#café_au_lait"),
        ("summer 2024", "#summer2024", "#summer_2024"),
    ],
)
def test_normalize(text, joined, underscored):
    assert normalize_tag(text) == joined
    assert normalize_tag(text, style="underscored") == underscored


@pytest.mark.parametrize("text", ["", "#", "!!!", "#123", "   ", "🙂"])
def test_nothing_valid_left(text):
    assert normalize_tag(text) is None


def test_unknown_style():
    with pytest.raises(ValueError):
        normalize_tag("dog", style="CamelCase")
