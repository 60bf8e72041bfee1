"""Instagram's hashtag form, plural folding, and the editable word lists.

Instagram accepts letters, digits and underscores after the `#` (no spaces, no punctuation) and
at most 30 hashtags per post; a tag of digits only is not linked, so it must hold a letter.
Tags are lowercase here so that #Dog and #dog are one tag.

Plural folding uses a small rule-based singularizer with an exceptions list
(`resources/tagging/plural_exceptions.txt`). NLTK's WordNet lemmatizer would need an nltk_data
download, so it is not used. Where the rules leave a choice ("horses" -> horse or hors,
"buses" -> bus or buse, "movies" -> movie or movy) the more frequent English word wins, by
`wordfreq` when it is installed (its word lists ship inside the package, no network), else by
the POS tagger's vocabulary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path

from ..paths import resources_dir
from ..results import MAX_HASHTAGS

MAX_TAGS_PER_POST = MAX_HASHTAGS  # never suggest more than a post may carry
# Longer phrases make tags nobody searches for (#snowboarderskieruniformedbicyclist); their
# shorter endings ("bicyclist") still come through as tags of their own.
MAX_TAG_WORDS = 3
STYLES = ("joined", "underscored")
DEFAULT_STYLE = "joined"

_APOSTROPHES = re.compile(r"['\u2019\u2018`´]")
_NON_WORD = re.compile(r"[^\w]+|_+")


def wordlist_dir() -> Path:
    return resources_dir() / "tagging"


def _lines(name: str, missing_ok: bool = False) -> list[str]:
    """A word list's entries, lowercased, without comments and blank lines."""
    path = wordlist_dir() / name
    if missing_ok and not path.is_file():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip().lower()
        if line:
            out.append(line)
    return out


@cache
def wordlist(name: str) -> frozenset[str]:
    """The words of resources/tagging/<name>.txt (lowercase, comments dropped)."""
    return frozenset(word for line in _lines(f"{name}.txt") for word in line.split())


@cache
def phrase_list(name: str) -> frozenset[tuple[str, ...]]:
    """Multiword entries of resources/tagging/<name>.txt as word tuples."""
    return frozenset(tuple(line.split()) for line in _lines(f"{name}.txt"))


@cache
def all_compounds() -> frozenset[tuple[str, ...]]:
    """Every listed compound ("teddy bear", "rock climbing"), whole-only ones included."""
    return phrase_list("compounds") | phrase_list("compounds_whole_only")


def compound_spans(words: Sequence[str], names: frozenset[tuple[str, ...]]) -> list[tuple[int, int]]:
    """(start, end) of every listed compound in `words`, longest compounds first."""
    spans = []
    for size in sorted({len(c) for c in names}, reverse=True):
        for i in range(len(words) - size + 1):
            if tuple(words[i : i + size]) in names:
                spans.append((i, i + size))
    return spans


@lru_cache(maxsize=1)
def plural_exceptions() -> dict[str, str]:
    """plural -> singular for irregular plurals; word -> itself for words left as they are."""
    table: dict[str, str] = {}
    for line in _lines("plural_exceptions.txt"):
        parts = line.split()
        table[parts[0]] = parts[1] if len(parts) > 1 else parts[0]
    return table


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown hashtag style {style!r}: use one of {', '.join(STYLES)}")
    return style


def clean_word(word: str) -> str:
    """One word in tag form: lowercase letters and digits only ("T-shirt" -> "tshirt")."""
    text = unicodedata.normalize("NFKC", word).lower()
    text = _APOSTROPHES.sub("", text)
    return "".join(ch for ch in text if ch.isalnum())


def _valid_body(body: str) -> bool:
    return (
        bool(body)
        and any(ch.isalpha() for ch in body)
        and all(ch.isalnum() or ch == "_" for ch in body)
    )


def make_tag(words: Sequence[str], style: str = DEFAULT_STYLE) -> str | None:
    """("teddy", "bear") -> "#teddybear" (joined) or "#teddy_bear" (underscored); None if no
    letter is left."""
    check_style(style)
    parts = [w for w in (clean_word(word) for word in words) if w]
    body = ("" if style == "joined" else "_").join(parts)
    return "#" + body if _valid_body(body) else None


def normalize_tag(text: str, style: str = DEFAULT_STYLE) -> str | None:
    """User-typed text in Instagram form: "Teddy Bear!" or "#teddy_bear" -> "#teddybear".

    Spaces, underscores and punctuation separate words; the style decides how they are joined.
    No plural folding: a hand-typed tag means what it says (#dogsofinstagram). None when no
    letter remains ("#", "!!!", "123").
    """
    check_style(style)
    text = unicodedata.normalize("NFKC", text or "").strip().lstrip("#")
    text = _APOSTROPHES.sub("", text)
    words = [w for w in _NON_WORD.split(text) if w]
    return make_tag(words, style)


def tag_key(tag: str) -> str:
    """The style-free identity of a tag: "#Teddy_Bear" and "#teddybear" -> "teddybear"."""
    return clean_word(tag)


def words_key(words: Sequence[str]) -> str:
    """The same identity for a tag's words: ("teddy", "bear") -> "teddybear"."""
    return "".join(clean_word(w) for w in words)


@lru_cache(maxsize=1)
def _zipf():
    try:
        from wordfreq import zipf_frequency
    except ImportError:  # optional: the tagger's own vocabulary stands in
        return None
    return zipf_frequency


def _frequency(word: str) -> float:
    """How common an English word is: wordfreq's Zipf value, or without wordfreq 1.0 for a
    word the POS tagger saw in training (its Wall Street Journal vocabulary), else 0."""
    zipf = _zipf()
    if zipf is not None:
        return zipf(word, "en")
    from .postag import load_tagger

    tagger = load_tagger()
    return 1.0 if word in tagger.tagdict or f"i word {word}" in tagger.model.weights else 0.0


def _singular_candidates(word: str) -> list[str]:
    """Possible singulars, the rule-preferred one first."""
    if word.endswith("ies") and len(word) > 4:
        return [word[:-3] + "y", word[:-1]]
    if word.endswith("ves") and len(word) > 4:
        return [word[:-1], word[:-3] + "f", word[:-3] + "fe"]
    if word.endswith("es") and len(word) > 3:
        stem = word[:-2]
        if stem.endswith(("ss", "sh", "ch", "x", "z")):
            return [stem, word[:-1]]
        if stem.endswith(("s", "o")):
            return [word[:-1], stem]
        return [word[:-1], stem]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return [word[:-1]]
    return []


@lru_cache(maxsize=4096)
def singularize(word: str) -> str:
    """dogs -> dog, puppies -> puppy, boxes -> box, horses -> horse, men -> man, jeans -> jeans."""
    exceptions = plural_exceptions()
    if word in exceptions:
        return exceptions[word]
    function_words = wordlist("function_words")
    candidates = [c for c in _singular_candidates(word) if len(c) >= 3 and c not in function_words]
    if not candidates:
        return word
    if len(candidates) == 1:
        return candidates[0]
    # The rule order breaks ties; frequency decides between a word and a non-word.
    best = max(candidates, key=lambda c: (_frequency(c), -candidates.index(c)))
    return best if _frequency(best) > 0 else candidates[0]


def fold_plural(words: Sequence[str], tags: Sequence[str] | None = None) -> tuple[str, ...]:
    """Singularize the head (last word) when the tagger calls it plural (NNS/NNPS).

    Only the head: "sports car" stays, "dogs" -> "dog". Without POS tags the head is folded
    when it looks plural.
    """
    if not words:
        return ()
    head_tag = tags[-1] if tags else "NNS"
    if head_tag not in ("NNS", "NNPS"):
        return tuple(words)
    return (*words[:-1], singularize(words[-1]))


def is_function_word(word: str) -> bool:
    return word in wordlist("function_words")


def only_function_words(words: Iterable[str]) -> bool:
    return all(is_function_word(w) or not clean_word(w) for w in words)


def is_colour(word: str) -> bool:
    return word in wordlist("colours")


def is_generic(word: str) -> bool:
    return word in wordlist("generic_nouns")


def is_poor_noun(word: str) -> bool:
    return word in wordlist("poor_nouns")
