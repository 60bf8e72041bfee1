"""Noun phrases with their token positions."""

from __future__ import annotations

from desktop_app.tagging import Phrase, extract_phrases


def texts(phrases: list[Phrase]) -> list[str]:
    return [p.text for p in phrases]


def test_phrases_and_positions():
    tokens = "a little girl sitting on a bed with a teddy bear".split()
    phrases = extract_phrases(tokens)
    assert texts(phrases) == ["little girl", "girl", "bed", "teddy bear"]
    for p in phrases:
        assert [tokens[i] for i in p.indices] == list(p.words)
    assert phrases[0].whole and not phrases[1].whole


def test_single_nouns_are_phrases():
    assert texts(extract_phrases(["dog"])) == ["dog"]
    assert "dog" in texts(extract_phrases("a dog runs".split()))


def test_numbers_and_quantifiers_are_trimmed():
    assert texts(extract_phrases("two dogs play in the snow".split())) == ["dogs", "snow"]
    assert "people" in texts(extract_phrases("several people walk".split()))


def test_compound_after_a_noun_starts_its_own_phrase():
    got = texts(extract_phrases("a man rock climbing".split()))
    assert "man" in got and "rock climbing" in got and "man rock climbing" not in got


def test_case_and_empty_input():
    assert texts(extract_phrases("A Dog".split())) == ["dog"]
    assert extract_phrases([]) == []
