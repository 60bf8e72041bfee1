"""Popular Instagram forms of a candidate's noun: #dog -> #dogsofinstagram, #doglover, #instadog.

The forms come from `resources/tagging/variant_templates.txt` ({noun}lover, {nouns}ofinstagram,
...). A form is offered only where there is evidence that people use the joined word:

* wordfreq knows it (Zipf >= MIN_ZIPF; see popularity.py): #foodporn, #travelgram, #vanlife;
* it is on `resources/tagging/popular_tags.txt`, a hand-kept list of joined tags in wide use
  (wordfreq knows few of those);
* or the caller knows it from elsewhere (`known_extra`: the user's active trending lists, the
  tags in the user's library).

So nothing is invented. Variants have source "popular" and score below the tag they come from
(VARIANT_FACTOR), so the caption's own tags still lead. Personalisation: the library already
learns per tag; `template_feedback` adds a per-form signal, so a user who keeps rejecting
#...lover tags stops being offered #catlover too, a tag they never saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from ..results import HashtagSuggestion
from . import popularity as pop
from .rules import _lines, clean_word, plural_exceptions, singularize, tag_key

MIN_ZIPF = 1.0  # wordfreq's floor: any word it lists at all
VARIANT_FACTOR = 0.15  # a variant's score relative to its tag: after the caption's own (dev-tuned)
HEAD_FACTOR = 0.8  # built from a phrase's head (#sandybeach -> #beachlife) rather than the tag
MAX_PER_TAG = 2
MAX_TOTAL = 6
BASE_SOURCES = frozenset({"caption", "imagenet", "detector", "objects"})
MIN_NOUN = 3  # shorter nouns make accidental words (#artlife from #art is fine, #tv... no)
# Per-form feedback: muted after this many rejections with nothing kept.
MUTE_REJECTIONS = 3


@dataclass(frozen=True)
class Template:
    """One form, e.g. "{noun}lover" or "{nouns}ofinstagram"."""

    text: str
    prefix: str
    suffix: str
    plural: bool  # {nouns}: the plural goes in

    def build(self, noun: str) -> str:
        return self.prefix + (pluralize(noun) if self.plural else noun) + self.suffix

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.prefix) + f"(.{{{MIN_NOUN},}})" + re.escape(self.suffix))

    def noun_of(self, body: str) -> str | None:
        """The noun a tag body was built from with this form, or None ("catlover" -> "cat")."""
        m = self.pattern.fullmatch(body)
        if m is None:
            return None
        noun = m.group(1)
        return singularize(noun) if self.plural else noun


@dataclass(frozen=True)
class TemplateFeedback:
    """How the user treated the tags of one form (from the library's tag preferences)."""

    kept: int = 0
    rejected: int = 0

    @property
    def muted(self) -> bool:
        return self.kept == 0 and self.rejected >= MUTE_REJECTIONS

    @property
    def factor(self) -> float:
        """Beta(1, 1)-smoothed keep rate, doubled so that no evidence gives 1.0."""
        return min(1.0, 2.0 * (self.kept + 1) / (self.kept + self.rejected + 2))


def parse_template(line: str) -> Template | None:
    """"{noun}lover" -> Template; None for a line without exactly one placeholder or with
    characters a hashtag cannot hold."""
    text = line.strip().lower()
    for placeholder, plural in (("{nouns}", True), ("{noun}", False)):
        if text.count(placeholder) == 1 and text.count("{") == 1:
            prefix, suffix = text.split(placeholder)
            if all(ch.isalnum() for ch in prefix + suffix) and (prefix or suffix):
                return Template(text, prefix, suffix, plural)
    return None


@cache
def templates() -> tuple[Template, ...]:
    """The forms of resources/tagging/variant_templates.txt (bad lines skipped)."""
    out: list[Template] = []
    for line in _lines("variant_templates.txt", missing_ok=True):
        t = parse_template(line)
        if t is not None and t not in out:
            out.append(t)
    return tuple(out)


@cache
def listed_popular() -> frozenset[str]:
    """The bodies of resources/tagging/popular_tags.txt."""
    return frozenset(tag_key(w) for line in _lines("popular_tags.txt", missing_ok=True) for w in line.split())


@cache
def _irregular_plurals() -> dict[str, str]:
    return {singular: plural for plural, singular in plural_exceptions().items() if singular != plural}


def pluralize(noun: str) -> str:
    """dog -> dogs, puppy -> puppies, box -> boxes, man -> men (irregulars from the plural
    exceptions list)."""
    irregular = _irregular_plurals()
    if noun in irregular:
        return irregular[noun]
    if noun in plural_exceptions():  # a word that stays as it is (jeans, sheep)
        return noun
    if noun.endswith("y") and len(noun) > 2 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def evidence(body: str, known_extra: Iterable[str] = ()) -> str | None:
    """Why we believe people use `body`: "wordfreq", "listed", "yours" or None (no evidence)."""
    if pop.known(body, MIN_ZIPF):
        return "wordfreq"
    if body in listed_popular():
        return "listed"
    if body in known_extra:
        return "yours"
    return None


_EVIDENCE_NOTE = {
    "wordfreq": "common in social media text",
    "listed": "on the popular-tags list",
    "yours": "on your trending lists or in your library",
}


def variant_bodies(
    noun: str, known_extra: Iterable[str] = (), forms: Sequence[Template] | None = None
) -> list[tuple[str, Template, str]]:
    """(body, template, evidence) for each form of `noun` that people are known to use."""
    noun = clean_word(noun)
    if len(noun) < MIN_NOUN or not any(ch.isalpha() for ch in noun):
        return []
    extra = known_extra if isinstance(known_extra, (set, frozenset)) else frozenset(known_extra)
    out = []
    seen = set()
    for t in templates() if forms is None else forms:
        body = t.build(noun)
        if body in seen or body == noun:
            continue
        seen.add(body)
        why = evidence(body, extra)
        if why is not None:
            out.append((body, t, why))
    return out


def template_feedback(
    preferences: Iterable, forms: Sequence[Template] | None = None
) -> dict[str, TemplateFeedback]:
    """Per form (its text), the kept and rejected counts of the user's tags of that form.

    `preferences`: TagLibrary.tag_preferences() items (tag, approvals, adds, rejections,
    removals). A tag counts for a form when it is the form built from a noun of 3+ letters.
    """
    forms = templates() if forms is None else forms
    counts: dict[str, list[int]] = {}
    for p in preferences:
        body = tag_key(p.tag)
        kept = int(p.approvals) + int(p.adds)
        rejected = int(p.rejections) + int(p.removals)
        if not kept and not rejected:
            continue
        for t in forms:
            if t.noun_of(body) is not None:
                c = counts.setdefault(t.text, [0, 0])
                c[0] += kept
                c[1] += rejected
    return {k: TemplateFeedback(kept, rejected) for k, (kept, rejected) in counts.items()}


def _bases(c: HashtagSuggestion) -> list[tuple[str, float]]:
    """(noun, factor) to build variants from: the tag's body, and a phrase's head noun."""
    body = tag_key(c.tag)
    out = [(body, 1.0)]
    if len(c.words) > 1:
        head = singularize(clean_word(c.words[-1]))
        if head and head != body:
            out.append((head, HEAD_FACTOR))
    return out


def popular_variants(
    candidates: Sequence[HashtagSuggestion],
    known_extra: Iterable[str] = (),
    feedback: Mapping[str, TemplateFeedback] | None = None,
    max_per_tag: int = MAX_PER_TAG,
    max_total: int = MAX_TOTAL,
) -> list[HashtagSuggestion]:
    """Variants of the model's candidates (source "popular"), best first, none that is already
    a candidate. `feedback` (per template text) mutes or lowers forms the user rejects."""
    feedback = feedback or {}
    forms = list(templates())
    extra = frozenset(known_extra)
    have = {tag_key(c.tag) for c in candidates}
    found: dict[str, HashtagSuggestion] = {}
    for c in candidates:
        if c.source not in BASE_SOURCES:
            continue
        mine: list[HashtagSuggestion] = []
        order: dict[str, int] = {}  # the template's line: earlier forms are preferred
        for noun, factor in _bases(c):
            for body, t, why in variant_bodies(noun, extra):
                order.setdefault("#" + body, forms.index(t))
                if body in have:
                    continue
                fb = feedback.get(t.text, TemplateFeedback())
                if fb.muted:
                    continue
                figure = pop.popularity(body)
                score = float(c.score) * VARIANT_FACTOR * factor * fb.factor
                parts = {"base": float(c.score), "variant": round(VARIANT_FACTOR * factor, 4)}
                if fb.factor < 1.0:
                    parts["form_feedback"] = round(fb.factor, 4)
                if figure is not None:
                    parts["popularity"] = figure
                mine.append(
                    HashtagSuggestion(
                        tag="#" + body,
                        score=round(score, 6),
                        source="popular",
                        token_indices=tuple(c.token_indices),
                        words=tuple(c.words),
                        parts=parts,
                        reason=f"a popular form of {c.tag} ({_EVIDENCE_NOTE[why]})",
                    )
                )
        mine.sort(key=lambda s: (-s.score, order[s.tag]))
        for s in mine[:max_per_tag]:
            old = found.get(s.tag)
            if old is None or s.score > old.score:
                found[s.tag] = s
    ranked = sorted(found.values(), key=lambda s: (-s.score, -s.parts.get("popularity", 0.0), s.tag))
    return ranked[: max(0, max_total)]
