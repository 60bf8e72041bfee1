"""Evidence gathering: everything the library knows about each candidate tag for one photo,
read in one snapshot and handed to ranking.py's pure functions as `TagEvidence`.

The pieces: the model's candidates merged through the synonyms (blocked ones dropped), the
user's own decisions on this photo, the votes of similar reviewed photos (neighbour_cache.py),
the habit models' P(kept | photo) (habit_sums.py), co-occurrence with the tags already chosen
and with the model's tags for the photo, and each tag's counts (decisions.py). The neighbours,
the habit models and co-occurrence also add candidates of their own (source "library").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..results import HashtagSuggestion
from . import ranking
from .db import chunks, marks
from .decisions import TagStats, photo_states, stats_for
from .habit_sums import HabitSums, suggested_scores
from .habits import HabitPrediction
from .neighbour_cache import NeighbourCache
from .ranking import POSITIVE_STATES, RankingConfig, TagEvidence
from .rules import Rules

PARTNERS = 50  # co-occurrence partners read per tag
CUE_NAMED = 0.05  # a habit's cue is named in the reason when it raises P(kept) this much
_PARTNER_CANDIDATES = 10  # most candidates each co-occurrence table may add


@dataclass
class Candidate:
    """A candidate tag after the synonyms: where it came from and what the model said."""

    tag: str
    model: float | None
    source: str
    token_indices: tuple[int, ...] = ()
    words: tuple[str, ...] = ()
    reason: str = ""
    merged_from: list[str] = field(default_factory=list)


@dataclass
class Gathered:
    """What `gather` found: the candidates (model's and library's), their evidence, and the
    model's order (tag -> position) for ties."""

    merged: dict[str, Candidate]
    evidence: list[TagEvidence]
    order: dict[str, int]


@dataclass
class Sources:
    """What gathering reads besides the tables: the in-memory index and models, the time."""

    config: RankingConfig
    neighbours: NeighbourCache
    habits: HabitSums
    now: float


@dataclass
class _PhotoSignals:
    """The photo-level signals: neighbour votes and the habit models' predictions."""

    votes: ranking.NeighbourVotes | None = None
    habits: dict[str, tuple[HabitPrediction, str]] = field(default_factory=dict)


@dataclass
class _Cooccurrence:
    seen: dict[str, float] = field(default_factory=dict)  # m(s): reviewed photos suggesting s
    pairs: dict[tuple[str, str], float] = field(default_factory=dict)  # n(c, t)
    sugg: dict[tuple[str, str], float] = field(default_factory=dict)  # m(s, t)


def merge_candidates(candidates: Sequence[HashtagSuggestion], rules: Rules,
                     ) -> tuple[dict[str, Candidate], dict[str, int]]:
    """The model's candidates through the synonyms (the best score of a merged group), blocked
    tags dropped; and each one's position in the model's list."""
    merged: dict[str, Candidate] = {}
    order: dict[str, int] = {}
    for c in candidates:
        tag = rules.canon(c.tag)
        if tag in rules.blocked or c.tag in rules.blocked:
            continue
        have = merged.get(tag)
        if have is None:
            merged[tag] = Candidate(tag, float(c.score), c.source, tuple(c.token_indices),
                                    tuple(c.words), c.reason)
            order[tag] = len(order)
        else:
            have.model = max(have.model or 0.0, float(c.score))
            have.token_indices = tuple(dict.fromkeys(have.token_indices + tuple(c.token_indices)))
            have.words = tuple(dict.fromkeys(have.words + tuple(c.words)))
        if c.tag != tag and c.tag not in merged[tag].merged_from:
            merged[tag].merged_from.append(c.tag)
    return merged, order


def _photo_signals(conn: sqlite3.Connection, src: Sources, rules: Rules,
                   embedding: np.ndarray | None, pid: int | None,
                   candidates: Sequence[HashtagSuggestion]) -> _PhotoSignals:
    out = _PhotoSignals()
    if embedding is None:
        return out
    if src.config.k > 0:
        out.votes = src.neighbours.votes(conn, embedding, pid, rules.canon)
    out.habits = src.habits.predictions(conn, embedding, rules, suggested_scores(candidates))
    return out


def _library_additions(merged: dict[str, Candidate], rules: Rules, sig: _PhotoSignals,
                       pinned: Iterable[str], cfg: RankingConfig) -> list[str]:
    """Tags the neighbours and the habit models add, then `pinned` (the user's own)."""
    extra: list[str] = []

    def addable(tag: str) -> bool:
        return tag not in merged and tag not in rules.blocked and tag not in extra

    if sig.votes is not None:
        for tag, _ in sorted(sig.votes.support.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(extra) >= cfg.library_candidates:
                break
            if addable(tag):
                extra.append(tag)
    likely = [t for t, (h, _) in sorted(sig.habits.items(), key=lambda kv: (-kv[1][0].p, kv[0]))
              if h.p >= cfg.habit_candidate_min]
    for tag in likely[: cfg.habit_candidates]:
        if addable(tag):
            extra.append(tag)
    for tag in pinned:
        if addable(tag):
            extra.append(tag)
    return extra


def _raw(tags: Iterable[str], aliases: dict[str, list[str]]) -> list[str]:
    """The tags and their aliases (the tables hold tags as they were decided)."""
    out = []
    for t in tags:
        out.append(t)
        out.extend(aliases.get(t, ()))
    return out


def _read_cooccurrence(conn: sqlite3.Connection, rules: Rules, chosen: list[str],
                       context: list[str], cfg: RankingConfig,
                       ) -> tuple[_Cooccurrence, list[list[str]]]:
    """Co-occurrence with the tags chosen on this photo (tag_pairs) and with the model's tags
    for it (suggest_pairs); and each table's strongest partners, best first (new candidates).

    One indexed read per key: its PARTNERS most frequent partners. They give both the counts
    (a partner outside them is too rare to matter) and the new candidates."""
    canon = rules.canon
    aliases = rules.aliases()
    co = _Cooccurrence()
    for part in chunks(_raw(context, aliases)):
        for tag, n in conn.execute(
            f"SELECT s, n FROM suggest_seen WHERE s IN ({marks(len(part))})", list(part)
        ):
            co.seen[canon(tag)] = co.seen.get(canon(tag), 0.0) + n
    partners: list[list[str]] = []
    for table, cols, keys, counts in (
        ("tag_pairs", ("a", "b"), chosen, co.pairs),
        ("suggest_pairs", ("s", "t"), context, co.sugg),
    ):
        found: dict[str, float] = {}
        for key in _raw(keys, aliases):
            ckey = canon(key)
            for tag, n in conn.execute(
                f"SELECT {cols[1]}, n FROM {table} WHERE {cols[0]} = ? "
                f"ORDER BY n DESC LIMIT {PARTNERS}",
                (key,),
            ):
                if n < 2:
                    break
                tag = canon(tag)
                counts[(ckey, tag)] = counts.get((ckey, tag), 0.0) + n
                value = n / (co.seen.get(ckey, n) + cfg.context_shrink)
                if table == "tag_pairs" or value >= cfg.context_min:
                    found[tag] = max(found.get(tag, 0.0), n)
        partners.append([t for t, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))])
    return co, partners


def _tag_evidence(tag: str, cand: Candidate, st: TagStats, own_state: str | None,
                  sig: _PhotoSignals, cooc: dict, ctx: dict, src: Sources) -> TagEvidence:
    cfg = src.config
    ev = TagEvidence(
        tag=tag,
        model=cand.model,
        pos_w=ranking.decayed_value(st.pos_w, st.ref_at, src.now, cfg.half_life_days),
        neg_w=ranking.decayed_value(st.neg_w, st.ref_at, src.now, cfg.half_life_days),
        neg_sure=ranking.decayed_value(st.neg_sure, st.ref_at, src.now, cfg.half_life_days),
        approvals=st.approved,
        adds=st.added,
        rejections=st.rejected,
        removals=st.removed,
        merged_from=tuple(cand.merged_from),
        own_state=own_state,
    )
    votes = sig.votes
    if votes is not None:
        ev.nb_support = votes.support.get(tag, 0.0)
        ev.nb_against = votes.against.get(tag, 0.0)
        ev.nb_weight = votes.weight
        ev.nb_count = votes.count.get(tag, 0)
        ev.nb_reject_count = votes.reject_count.get(tag, 0)
    if tag in sig.habits:
        h, cue = sig.habits[tag]
        ev.habit = h.p
        ev.habit_kept = h.kept
        ev.habit_cue = cue if h.lift >= CUE_NAMED else None
        ev.habit_lift = h.lift
        ev.habit_base = h.base
    if tag in cooc:
        ev.cooc, ev.cooc_with, ev.cooc_count = cooc[tag]
    if tag in ctx:
        ev.ctx, ev.ctx_with, ev.ctx_count = ctx[tag]
    return ev


def gather(
    conn: sqlite3.Connection,
    src: Sources,
    rules: Rules,
    candidates: Sequence[HashtagSuggestion],
    embedding: np.ndarray | None,
    pid: int | None,
    chosen: Sequence[str] = (),
    *,
    own: bool,
    extra_tags: Sequence[str] = (),
) -> Gathered:
    """Everything the library knows about each candidate (and the tags it adds) for one photo.

    `pid`: the photo itself (its own decisions, and not its own neighbour); `own`: its own
    decisions count as such (ranking it; not when `learn` rebuilds what a ranking saw);
    `extra_tags`: tags to gather evidence on even if nothing proposes them."""
    cfg = src.config
    canon = rules.canon
    merged, order = merge_candidates(candidates, rules)
    states = {} if pid is None else {canon(t): s for t, s in photo_states(conn, pid)}
    kept_here = [t for t, s in states.items() if s in POSITIVE_STATES]
    chosen_c = list(dict.fromkeys([canon(t) for t in chosen] + kept_here))
    sig = _photo_signals(conn, src, rules, embedding, pid, candidates)
    pinned = [canon(t) for t in extra_tags] + (kept_here if own else [])
    extra = _library_additions(merged, rules, sig, pinned, cfg)
    context = [t for t, c in merged.items() if c.model is not None]
    co, partners = _read_cooccurrence(conn, rules, chosen_c, context, cfg)
    for ordered in partners:
        added = 0
        for tag in ordered:
            if added >= _PARTNER_CANDIDATES:
                break
            if tag not in merged and tag not in rules.blocked and tag not in extra \
                    and tag not in chosen_c:
                extra.append(tag)
                added += 1
    for tag in extra:
        if tag not in merged:
            merged[tag] = Candidate(tag, None, "library")
    for tag in rules.always:
        merged.pop(canon(tag), None)
    stats = stats_for(conn, _raw(list(merged) + chosen_c, rules.aliases()), canon,
                      cfg.half_life_days)
    kept_counts = {t: float(st.approved + st.added) for t, st in stats.items()}
    cooc = ranking.cooccurrence(co.pairs, kept_counts, chosen_c, merged, cfg.cooccurrence_shrink)
    ctx = ranking.cooccurrence(co.sugg, co.seen, context, merged, cfg.context_shrink)
    evidence = [
        _tag_evidence(tag, cand, stats.get(tag) or TagStats(tag),
                      states.get(tag) if own else None, sig, cooc, ctx, src)
        for tag, cand in merged.items()
    ]
    return Gathered(merged, evidence, order)
