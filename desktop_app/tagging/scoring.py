"""The score of a hashtag candidate: a number in 0..1 and the parts it is made of.

    caption tag:   model x specificity x attention
    ImageNet tag:  probability x source weight x specificity
    both:          1 - (1 - caption) x (1 - ImageNet)       (two sources agreeing: noisy-OR)

* model: the geometric mean of the decoder's probabilities of the phrase's tokens, so a
  phrase is as sure as its words together ("teddy" 0.9, "bear" 0.8 -> 0.85).
* specificity: 1 for an ordinary noun or phrase; lower for vague nouns (people, thing), colour
  words (#red, #reddress: colour is easy to get wrong and seldom the point of a photo) and
  long phrases nobody types.
* attention: when the caption carries attention maps, how peaked the head word's map is,
  relative to the caption's most peaked word: a word the model looked at one place for is
  more likely a thing in the photo. It can lower a score by at most ATTENTION_WEIGHT.
* source weight: ImageNet classes are fine-grained and trained on other photos, so their
  names count less than the caption's words; a category (dog) collects the probability of all
  its classes and counts more than one class name (golden retriever).
* A caption phrase whose head is what the classifier saw ("brown dog" + "Golden Retriever")
  gets HEAD_AGREEMENT of the classifier's support.

The constants are set by reasoning, not fitted to Flickr8k's test split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..results import CaptionResult
from .rules import is_colour, is_generic

# Tuned on Flickr8k dev with bench/tag_tune.py (fine-grained class names such as #egyptianmau
# rarely match what people tag; they still lead when the caption is too unsure to give tags).
SOURCE_WEIGHT = {"caption": 1.0, "imagenet_category": 0.8, "imagenet_label": 0.15}
GENERIC = 0.5
COLOUR_ONLY = 0.4
COLOUR_MODIFIER = 0.6
LONG_PHRASE = 0.8  # three words or more
ATTENTION_WEIGHT = 0.2
HEAD_AGREEMENT = 0.5
# The beam's runner-up captions: a tag only they give is discounted; one they share with the
# best caption gets part of their support (see suggest._alternative_candidates).
ALTERNATIVE_WEIGHT = 1.0
ALTERNATIVE_AGREEMENT = 0.5
# The tag detector (detector.py): its probability p counts DETECTOR_WEIGHT x p as a source of
# its own (noisy-OR with the others), and a tag it knows but doubts loses up to DETECTOR_DOUBT
# of its other evidence (x (1 - DOUBT x (1 - p))): "shirt" in "a man in a blue shirt" is
# often the decoder's habit, not the photo.
DETECTOR_WEIGHT = 1.0
DETECTOR_DOUBT = 0.8


def decoder_confidence(token_probs: Sequence[float], indices: Sequence[int]) -> float | None:
    """Geometric mean of the decoder's token probabilities; None if they are missing."""
    try:
        probs = [float(token_probs[i]) for i in indices]
    except (IndexError, TypeError):
        return None
    if not probs or any(not math.isfinite(p) for p in probs):
        return None
    probs = [min(max(p, 1e-6), 1.0) for p in probs]
    return math.exp(sum(math.log(p) for p in probs) / len(probs))


def attention_peaks(caption: CaptionResult) -> list[float] | None:
    """Per token, 1 - normalized entropy of its attention map, divided by the caption's
    highest value (so 1.0 = the most focused word). None without usable attention."""
    att = caption.attention
    if att is None:
        return None
    att = np.asarray(att, dtype=float)
    if (
        att.ndim != 2
        or att.shape[0] != len(caption.tokens)
        or att.shape[0] == 0
        or att.shape[1] < 2
    ):
        return None
    att = np.clip(np.nan_to_num(att), 0.0, None)
    sums = att.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        return None
    p = att / sums
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    peaks = 1.0 - entropy / math.log(att.shape[1])
    top = float(peaks.max())
    if top <= 0:
        return None
    return [float(max(0.0, x) / top) for x in peaks]


def attention_factor(relative_peak: float) -> float:
    return 1.0 - ATTENTION_WEIGHT * (1.0 - relative_peak)


def specificity(words: Sequence[str]) -> float:
    """How telling a tag made of these words is (1.0 = fully)."""
    if not words:
        return 0.0
    colours = [is_colour(w) for w in words]
    value = 1.0
    if all(colours):
        value = COLOUR_ONLY
    elif any(colours):
        value = COLOUR_MODIFIER
    if is_generic(words[-1]):
        value = min(value, GENERIC)
    if len(words) >= 3:
        value *= LONG_PHRASE
    return value


def noisy_or(a: float, b: float) -> float:
    """Probability that at least one of two independent sources is right."""
    return 1.0 - (1.0 - a) * (1.0 - b)


def clamp(x: float) -> float:
    return min(1.0, max(0.0, float(x)))
