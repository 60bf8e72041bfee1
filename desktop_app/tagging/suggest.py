"""From a CaptionResult to ranked HashtagSuggestions (see scoring.py for the score)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from ..results import LOW_CONFIDENCE, CaptionResult, HashtagSuggestion, ImagenetGuess
from ..scene.classes import PERSON
from ..scene.evidence import SceneEvidence
from .detector import TagDetector, default_detector
from .imagenet_tags import ImagenetCandidate, imagenet_candidates
from .objects import arbitrate
from .phrases import Phrase, extract_phrases
from .rules import (
    MAX_TAG_WORDS,
    MAX_TAGS_PER_POST,
    _lines,
    check_style,
    clean_word,
    fold_plural,
    is_poor_noun,
    make_tag,
    only_function_words,
    words_key,
)
from .scoring import (
    ALTERNATIVE_AGREEMENT,
    ALTERNATIVE_WEIGHT,
    DETECTOR_DOUBT,
    DETECTOR_WEIGHT,
    HEAD_AGREEMENT,
    SOURCE_WEIGHT,
    attention_factor,
    attention_peaks,
    clamp,
    decoder_confidence,
    noisy_or,
    specificity,
)

# Below this a "suggestion" is noise (a word from a caption the model itself doubts, or a
# class the classifier gives a few percent): showing it would only bury the real ones.
MIN_SCORE = 0.01
DETECTOR_TOP = 12  # the detector's best tags considered as new candidates ...
DETECTOR_MIN_NEW = 0.1  # ... when it gives them at least this (below: Flickr8k's priors)
DETECTOR_SAYS_AGREES = 0.3  # a caption tag's reason mentions the detector from this probability
# ImageNet classes on the reviewed list (resources/tagging/sensitive_imagenet.txt: #guillotine,
# #gasmask, #gorilla) need this much probability, and are never offered while a person is in
# the photo (a 99 % "prison" on two people on a bench is still not a tag for them).
SENSITIVE_MIN_PROB = 0.6


@cache
def sensitive_labels() -> frozenset[str]:
    """The reviewed ImageNet classes, lowercased (read once)."""
    return frozenset(line.strip() for line in _lines("sensitive_imagenet.txt"))


def _allowed_guesses(guesses, evidence: SceneEvidence | None) -> list[ImagenetGuess]:
    person = evidence is not None and (evidence.count(PERSON) > 0 or bool(evidence.faces))
    sensitive = sensitive_labels()
    return [g for g in guesses
            if g.label.lower() not in sensitive or (not person and g.prob >= SENSITIVE_MIN_PROB)]


@dataclass
class _Candidate:
    key: str
    words: tuple[str, ...]  # tag words after plural folding
    source: str
    score: float
    parts: dict[str, float]
    reason: str
    token_indices: tuple[int, ...] = ()
    source_words: tuple[str, ...] = ()
    order: float = math.inf  # position in the caption, for ties
    support: list[str] = field(default_factory=list)
    boxes: list[int] = field(default_factory=list)  # PhotoResult.detections it names




def phrase_tag_words(phrase: Phrase) -> tuple[str, ...] | None:
    """The words of the tag a phrase makes (plural head folded), or None if it makes none:
    a poor noun head (#top, #couple), only function words, or nothing left."""
    words = fold_plural(phrase.words, phrase.postags)
    if not words or len(words) > MAX_TAG_WORDS or only_function_words(words) or is_poor_noun(words[-1]):
        return None
    if not words_key(words):
        return None
    return words


def _caption_candidates(caption: CaptionResult) -> dict[str, _Candidate]:
    tokens = list(caption.tokens)
    peaks = attention_peaks(caption)
    found: dict[str, _Candidate] = {}
    for phrase in extract_phrases(tokens):
        words = phrase_tag_words(phrase)
        if words is None:
            continue
        conf = decoder_confidence(caption.token_probs, phrase.indices)
        parts = {"model": 1.0 if conf is None else conf}
        parts["source"] = SOURCE_WEIGHT["caption"]
        parts["specificity"] = specificity(words)
        score = parts["model"] * parts["source"] * parts["specificity"]
        if peaks is not None:
            parts["attention"] = peaks[phrase.head_index]
            score *= attention_factor(parts["attention"])
        cand = _Candidate(
            key=words_key(words),
            words=words,
            source="caption",
            score=clamp(score),
            parts=parts,
            reason=f'from the caption: "{phrase.text}"',
            token_indices=phrase.indices,
            source_words=phrase.words,
            order=phrase.indices[0] + 0.01 * (len(phrase.indices) == 1),
        )
        old = found.get(cand.key)
        if old is None or cand.score > old.score:
            found[cand.key] = cand
    return found


def _alternative_candidates(caption: CaptionResult, found: dict[str, _Candidate]) -> None:
    """Fold in the tags of the beam's runner-up captions (in place).

    A tag the best caption already has gains support when a runner-up repeats it; a tag only a
    runner-up has ("a dog runs with a ball" next to "a dog runs on the grass") becomes a
    candidate of its own, discounted by how much less likely that caption is.
    """
    best_support: dict[str, float] = {}
    extra: dict[str, _Candidate] = {}
    for rank, alt in enumerate(caption.alternatives, 1):
        text = " ".join(alt.tokens)
        for phrase in extract_phrases(list(alt.tokens)):
            words = phrase_tag_words(phrase)
            if words is None:
                continue
            key = words_key(words)
            conf = decoder_confidence(alt.token_probs, phrase.indices)
            evidence = clamp(alt.weight * (1.0 if conf is None else conf) * specificity(words))
            if key in found:
                best_support[key] = max(best_support.get(key, 0.0), evidence)
                continue
            score = clamp(ALTERNATIVE_WEIGHT * evidence)
            if key not in extra or score > extra[key].score:
                extra[key] = _Candidate(
                    key=key, words=words, source="caption", score=score,
                    parts={"model": evidence, "source": ALTERNATIVE_WEIGHT,
                           "specificity": specificity(words)},
                    reason=f'from an alternative caption: "{text}"',
                    source_words=phrase.words, order=100.0 + rank + phrase.indices[0] / 100)
    for key, support in best_support.items():
        cand = found[key]
        cand.parts["alternatives"] = support
        cand.score = clamp(noisy_or(cand.score, ALTERNATIVE_AGREEMENT * support))
        cand.reason += "; the model's other captions agree"
    for key, cand in extra.items():
        found.setdefault(key, cand)


def _imagenet_candidate(c: ImagenetCandidate) -> _Candidate:
    weight = SOURCE_WEIGHT["imagenet_" + c.kind]
    spec = specificity(c.words)
    label = c.labels[0]
    if c.kind == "category":
        reason = f'from the image classifier: "{label}" is a kind of {c.words[0]}'
        if len(c.labels) > 1:
            reason = (
                f'from the image classifier: {len(c.labels)} kinds of {c.words[0]} ("{label}", ...)'
            )
    else:
        reason = f'from the image classifier: "{label}" ({c.prob:.0%})'
    return _Candidate(
        key=c.key,
        words=c.words,
        source="imagenet",
        score=clamp(c.prob * weight * spec),
        parts={"classifier": c.prob, "source": weight, "specificity": spec},
        reason=reason,
        source_words=c.words,
        support=list(c.labels),
    )


def _merge(found: dict[str, _Candidate], imagenet: list[_Candidate]) -> list[_Candidate]:
    """Fold the classifier's candidates into the caption's: the same tag from both sources
    is one candidate (noisy-OR); a caption phrase with the classifier's word as head gets part
    of its support; the rest stay as classifier-only candidates."""
    by_head: dict[str, float] = {}
    head_label: dict[str, str] = {}
    for cand in imagenet:
        head = clean_word(cand.words[-1])
        if cand.score > by_head.get(head, 0.0):
            by_head[head], head_label[head] = cand.score, cand.support[0]
    out = list(found.values())
    for cand in imagenet:
        same = found.get(cand.key)
        if same is None:
            if cand.key not in {c.key for c in out}:
                out.append(cand)
            continue
        same.parts["imagenet"] = max(same.parts.get("imagenet", 0.0), cand.score)
        same.score = clamp(noisy_or(same.score, cand.score))
        same.reason += f'; the image classifier agrees ("{cand.support[0]}")'
    for cand in found.values():
        head = clean_word(cand.words[-1])
        if len(cand.words) > 1 and head in by_head and "imagenet" not in cand.parts:
            support = HEAD_AGREEMENT * by_head[head]
            cand.parts["imagenet"] = support
            cand.score = clamp(noisy_or(cand.score, support))
            cand.reason += f'; the image classifier saw a {head} ("{head_label[head]}")'
    return out


def _apply_detector(cands: list[_Candidate], caption: CaptionResult, detector: TagDetector) -> list[_Candidate]:
    """Let the tag detector confirm, doubt and add (see detector.py and scoring.py)."""
    probs = detector.probabilities(caption.embedding)
    if probs is None:
        return cands
    have = {c.key for c in cands}
    for cand in cands:
        i = detector.index.get(cand.key)
        if i is None:
            continue
        p = float(probs[i])
        cand.parts["detector"] = p
        doubted = cand.score * (1.0 - DETECTOR_DOUBT * (1.0 - p))
        cand.score = clamp(noisy_or(doubted, DETECTOR_WEIGHT * p * specificity(cand.words)))
        if p >= DETECTOR_SAYS_AGREES:
            cand.reason += f"; the tag detector agrees ({p:.0%})"
    for i in np.argsort(-probs)[:DETECTOR_TOP]:
        key, p = detector.keys[i], float(probs[i])
        if key in have or p < DETECTOR_MIN_NEW:
            continue
        words = detector.tags[i]
        spec = specificity(words)
        cands.append(_Candidate(
            key=key, words=words, source="detector", score=clamp(DETECTOR_WEIGHT * p * spec),
            parts={"detector": p, "source": DETECTOR_WEIGHT, "specificity": spec},
            reason=f"seen in the photo: photos like this one are tagged #{key} ({p:.0%} of the time)",
            source_words=words, order=200.0 + len(cands)))
    return cands


def _object_candidate(words: tuple[str, ...], score: float, reason: str, boxes: list[int]) -> _Candidate:
    return _Candidate(key=words_key(words), words=words, source="objects", score=score,
                      parts={"objects": score, "specificity": specificity(words)}, reason=reason,
                      source_words=words, order=150.0, boxes=list(boxes))


def suggest_hashtags(
    caption: CaptionResult, style: str = "joined", limit: int = MAX_TAGS_PER_POST,
    detector: TagDetector | None | bool = True, evidence: SceneEvidence | None = None,
) -> list[HashtagSuggestion]:
    """Ranked hashtag candidates for a captioned photo, best first, at most `limit` (<= 30,
    Instagram's cap per post).

    `detector`: True for the shipped tag detector (when it can be read), a TagDetector, or
    False/None for the caption and the classifier only (human captions in benchmarks).
    `evidence`: what the object and face detectors saw (their tags join; see objects.py)."""
    check_style(style)
    limit = max(0, min(int(limit), MAX_TAGS_PER_POST))
    if limit == 0:
        return []
    found: dict[str, _Candidate] = {}
    # A caption the model itself doubts gives no tags (one without probabilities, e.g. typed
    # by the user, is taken as it is).
    trusted = not caption.token_probs or caption.confidence >= LOW_CONFIDENCE
    if trusted:
        found = _caption_candidates(caption)
        _alternative_candidates(caption, found)
    guesses = _allowed_guesses(caption.imagenet, evidence)
    imagenet = [_imagenet_candidate(c) for c in imagenet_candidates(guesses)]
    cands = _merge(found, imagenet)
    # The detector learned from the same photos as the captioner: where the caption model is
    # lost (a latte art photo), so is it ("#man", "#dog" from priors), so it stays silent. It
    # reads the photo's features: a caption without them (typed, a human's) never loads it.
    if trusted and caption.embedding is not None:
        det = default_detector() if detector is True else (detector or None)
        if det is not None:
            cands = _apply_detector(cands, caption, det)
    if evidence is not None:  # (the detectors ran, even if they found nothing)
        cands = arbitrate(cands, evidence, _object_candidate)
    ranked = sorted(cands, key=lambda c: (-c.score, c.order, -c.parts.get("classifier", 0.0)))
    out: list[HashtagSuggestion] = []
    seen: set[str] = set()
    for cand in ranked:
        tag = make_tag(cand.words, style)
        if tag is None or cand.key in seen or cand.score < MIN_SCORE:
            continue
        seen.add(cand.key)
        out.append(
            HashtagSuggestion(
                tag=tag,
                score=round(cand.score, 6),
                source=cand.source,
                token_indices=tuple(cand.token_indices),
                words=tuple(cand.source_words),
                parts={k: round(float(v), 6) for k, v in cand.parts.items()},
                reason=cand.reason,
                box_indices=tuple(cand.boxes),
            )
        )
        if len(out) >= limit:
            break
    return out
