"""Noun phrases in a caption, found by phrasemachine's SimpleNP grammar.

phrasemachine returns every span that matches `(A|N)*N(PD*(A|N)*N)*`. From those we keep the
base noun phrases and their tails that end on the head noun:

* "a little girl sitting on a bed with a teddy bear" -> little girl, girl, bed, teddy bear.
* Spans with a preposition ("bed with a teddy bear") are dropped: each one is just two
  shorter phrases glued together, which are kept on their own (#bed, #teddybear).
* Spans that stop before the head ("teddy" of "teddy bear") are dropped: a modifier alone
  names something else.
* Numbers, quantifiers and function words are trimmed off the front ("two dogs" -> dogs).
* The tail of a compound listed in compounds_whole_only.txt is dropped ("bear" of "teddy bear"),
  and a compound starts a phrase of its own ("a man rock climbing": man, rock climbing).

phrasemachine's default `minlen=2` would drop single nouns ("dog"), so `minlen=1` is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from .postag import import_phrasemachine, pos_tag
from .rules import all_compounds, clean_word, compound_spans, phrase_list, wordlist

_MAXLEN = 6
_NOUN_OR_ADJ = {"N", "A"}


@dataclass(frozen=True)
class Phrase:
    """A noun phrase of a caption: its words (lowercase, as written) and token positions."""

    words: tuple[str, ...]
    indices: tuple[int, ...]  # positions in the caption's tokens, consecutive
    postags: tuple[str, ...] = ()
    whole: bool = True  # the longest phrase there; False for a shorter tail ("girl")

    @property
    def head_index(self) -> int:
        return self.indices[-1]

    @property
    def text(self) -> str:
        return " ".join(self.words)


def tag_tokens(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Lowercase the tokens and POS-tag them; tokens that are not words (punctuation,
    "<unk>") and function words the tagger took for nouns get a tag no phrase can contain."""
    words = [t.lower() for t in tokens]
    tags = pos_tag(words)
    function_words = wordlist("function_words")
    for i, word in enumerate(words):
        if not clean_word(word) or not word.replace("-", "").replace("'", "").isalnum():
            tags[i] = "SYM"
        elif word in function_words and tags[i][:2] in ("NN", "JJ", "CD", "FW"):
            tags[i] = "SYM"
    return words, tags


def extract_phrases(tokens: list[str]) -> list[Phrase]:
    """Noun phrases (and their head-final tails) of a tokenized caption, in caption order."""
    if not tokens:
        return []
    pm = import_phrasemachine()
    words, tags = tag_tokens(list(tokens))
    coarse = pm.coarse_tag_str(tags)
    found = pm.get_phrases(
        tokens=words, postags=tags, minlen=1, maxlen=_MAXLEN, output=["token_spans"]
    )["token_spans"]

    droppable = wordlist("quantifiers") | wordlist("function_words") | wordlist("poor_nouns")
    whole_only = compound_spans(words, phrase_list("compounds_whole_only"))
    # A noun right before a compound is another phrase: "a man rock climbing".
    compound_starts = [
        cs
        for cs, _ in compound_spans(words, all_compounds())
        if cs > 0 and tags[cs - 1] in ("NN", "NNS", "NNP", "NNPS")
    ]
    spans: dict[tuple[int, int], bool] = {}
    for start, end in found:
        if any(c not in _NOUN_OR_ADJ for c in coarse[start:end]) or coarse[end - 1] != "N":
            continue  # has a preposition/determiner: two phrases glued together
        if end < len(coarse) and coarse[end] == "N" and end not in compound_starts:
            continue  # stops before the head noun
        if any(start < cs < end for cs in compound_starts):
            continue
        maximal = start == 0 or coarse[start - 1] not in _NOUN_OR_ADJ or start in compound_starts
        while start < end - 1 and (words[start] in droppable or tags[start] == "CD"):
            start += 1
        if any(cs < start < ce and end == ce for cs, ce in whole_only):
            continue
        spans[(start, end)] = spans.get((start, end), False) or maximal

    phrases = [
        Phrase(
            words=tuple(words[s:e]),
            indices=tuple(range(s, e)),
            postags=tuple(tags[s:e]),
            whole=whole,
        )
        for (s, e), whole in spans.items()
    ]
    phrases.sort(key=lambda p: (p.indices[0], -len(p.indices)))
    return phrases
