"""Batched, length-normalised beam search (greedy is beam width 1), in NumPy.

The model step is a compiled function over all photos x beams at once; this module only
keeps the books: scores, back-pointers, per-token probabilities and attention maps. It never
emits the banned ids (<unk>, <pad>, <start>), never repeats a word twice in a row or a
trigram, and penalises a content word that a hypothesis already used, which curbs
"a blue shirt and a white shirt".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .decency import NeverAfter

# Words a caption may repeat without penalty.
REPEATABLE = frozenset(
    "a an the and of in on at with to is are while his her their its by for from into near "
    "over under through other each some two three four one up down out off as".split()
)


@dataclass
class Hypothesis:
    token_ids: list[int]  # without <start> and <end>
    token_logprobs: list[float]  # the model's log p of each token (before any penalty)
    attention: np.ndarray  # (len(token_ids), L)
    log_prob: float  # sum of token log probs, <end> included
    score: float  # length-normalised score used to choose between hypotheses
    alternatives: list[Hypothesis] = field(default_factory=list)  # the runners-up, best first


def _ngram_followers(hist: np.ndarray, n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `hist` (e.g. "a man in a man in")."""
    if n < 2 or len(hist) < n - 1:
        return []
    tail = tuple(hist[len(hist) - n + 1 :])
    return [int(hist[i + n - 1]) for i in range(len(hist) - n + 1) if tuple(hist[i : i + n - 1]) == tail]


StepFn = Callable[[np.ndarray, tuple, np.ndarray], tuple[np.ndarray, tuple, np.ndarray]]


@dataclass
class _Rules:
    """What may follow what, and how hypotheses are compared (see beam_search)."""

    k: int
    max_len: int
    end_id: int
    banned: list[int]
    repeat_penalty: float
    repeatable_ids: frozenset[int]
    length_alpha: float
    no_repeat_ngram: int
    word_bias: np.ndarray | None
    never_after: NeverAfter | None


@dataclass
class _Books:
    """The live beams of every photo, rows photo-major (photo i owns rows i*k .. i*k+k-1)."""

    tokens: np.ndarray  # (M,) the last token of each row
    state: tuple
    scores: np.ndarray  # (n_photos, k)
    hist_tok: np.ndarray  # (M, t)
    hist_lp: np.ndarray  # (M, t)
    hist_att: np.ndarray | None  # (M, t, L)
    finished: list[list[Hypothesis]]
    done: np.ndarray  # (n_photos,) bool


def _step_live(step: StepFn, b: _Books, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One decoder step for the photos not yet done (finished photos cost nothing more)."""
    n_photos, M = len(b.done), len(b.tokens)
    if not b.done.any():
        logp, b.state, alpha = step(b.tokens, b.state, np.arange(n_photos))
        return np.asarray(logp, dtype=np.float64), np.asarray(alpha)
    live = np.flatnonzero(~b.done)
    rows = (live[:, None] * k + np.arange(k)).ravel()
    logp_live, state_live, alpha_live = step(b.tokens[rows], tuple(x[rows] for x in b.state), live)
    logp = np.zeros((M, logp_live.shape[1]))
    logp[rows] = logp_live
    alpha = np.zeros((M, alpha_live.shape[1]), dtype=alpha_live.dtype)
    alpha[rows] = alpha_live
    for x, y in zip(b.state, state_live, strict=True):  # (state's arrays are our own copies)
        x[rows] = y
    return logp, alpha


def _constrain(logp: np.ndarray, t: int, b: _Books, r: _Rules) -> np.ndarray:
    """The log probabilities the beam chooses by: bias, banned words, no empty caption, <end>
    when out of room, no word twice in a row, no repeated n-gram, used words penalised."""
    adj = logp.copy()
    if r.word_bias is not None:
        adj += np.repeat(r.word_bias, r.k, axis=0)
    if r.banned:
        adj[:, r.banned] = -np.inf
    if t == 0:
        adj[:, r.end_id] = -np.inf  # no empty captions
    if t == r.max_len:  # out of room: only <end> may follow
        adj[:, :] = -np.inf
        adj[:, r.end_id] = logp[:, r.end_id]
    if t > 0:
        for row in range(len(adj)):
            if b.done[row // r.k]:  # a finished photo's rows are not read below
                continue
            hist = b.hist_tok[row]
            adj[row, hist[-1]] = -np.inf  # never the same word twice in a row ("is is")
            if r.never_after and (ban := r.never_after.banned(hist[-3:].tolist())) is not None:
                adj[row, ban] = -np.inf  # never "eating a (young) baby" (decency.py)
            for tok in _ngram_followers(hist, r.no_repeat_ngram):
                adj[row, tok] = -np.inf
            if r.repeat_penalty:
                used = [x for x in hist if x not in r.repeatable_ids]
                if used:
                    adj[row, used] -= r.repeat_penalty
    return adj


def _choose(i: int, total: np.ndarray, top: np.ndarray, logp: np.ndarray, alpha: np.ndarray, t: int,
            b: _Books, r: _Rules, new: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Photo i's next beams from its best candidates (total: its (k * V,) scores): an <end>
    finishes a hypothesis, the others fill the k slots; then whether photo i is done."""
    new_rows, new_tok, new_scores = new
    k, V = r.k, logp.shape[1]
    order = top[np.argsort(-total[top])]
    slot = 0
    for flat in order:
        s = total[flat]
        if not np.isfinite(s):
            break
        beam, tok = divmod(int(flat), V)
        row = i * k + beam
        if tok == r.end_id:
            n_words = b.hist_tok.shape[1]
            lp = float(b.hist_lp[row].sum() + logp[row, r.end_id])
            att = b.hist_att[row] if b.hist_att is not None else np.zeros((0, alpha.shape[1]))
            b.finished[i].append(Hypothesis(
                list(map(int, b.hist_tok[row])), list(map(float, b.hist_lp[row])), att, lp,
                float(s) / max(1, n_words + 1) ** r.length_alpha))
            continue
        if slot < k:
            new_rows[i * k + slot] = row
            new_tok[i * k + slot] = tok
            new_scores[i, slot] = s
            slot += 1
    for j in range(slot, k):  # fewer live candidates than beams: park dead rows
        new_rows[i * k + j] = i * k
    # Stop once k captions are finished and the best of them already beats every live
    # beam as it stands (stopping at k finished alone cut captions short: "on a").
    if len(b.finished[i]) >= k:
        best = max(h.score for h in b.finished[i])
        live_scores = new_scores[i][np.isfinite(new_scores[i])]
        bound = (live_scores.max() / max(1, t + 2) ** r.length_alpha
                 if live_scores.size else -np.inf)
        if not live_scores.size or bound < best:
            b.done[i] = True


def _advance(b: _Books, logp: np.ndarray, alpha: np.ndarray,
             new: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    new_rows, new_tok, new_scores = new
    chosen_lp = logp[new_rows, new_tok]
    b.hist_tok = np.concatenate([b.hist_tok[new_rows], new_tok[:, None]], axis=1)
    b.hist_lp = np.concatenate([b.hist_lp[new_rows], chosen_lp[:, None]], axis=1)
    step_att = alpha[new_rows][:, None, :]
    b.hist_att = step_att if b.hist_att is None else np.concatenate([b.hist_att[new_rows], step_att], axis=1)
    b.state = tuple(x[new_rows] for x in b.state)
    b.scores = new_scores
    b.tokens = new_tok


def _best_of(b: _Books, k: int) -> list[Hypothesis]:
    """Each photo's best hypothesis, with up to k - 1 different runners-up."""
    best: list[Hypothesis] = []
    for i, finished in enumerate(b.finished):
        if not finished:  # cannot happen with the forced <end>, kept for safety
            row = i * k
            finished.append(Hypothesis(list(map(int, b.hist_tok[row])), list(map(float, b.hist_lp[row])),
                                       b.hist_att[row], float(b.hist_lp[row].sum()), float(b.scores[i, 0])))
        ranked = sorted(finished, key=lambda h: -h.score)
        head, seen = ranked[0], {tuple(ranked[0].token_ids)}
        for h in ranked[1:]:
            if len(head.alternatives) >= k - 1:
                break
            if tuple(h.token_ids) not in seen:
                seen.add(tuple(h.token_ids))
                head.alternatives.append(h)
        best.append(head)
    return best


def beam_search(
    step: StepFn,
    state: tuple,
    n_photos: int,
    beam: int,
    max_len: int,
    start_id: int,
    end_id: int,
    banned_ids: tuple[int, ...] = (),
    repeat_penalty: float = 1.5,
    repeatable_ids: frozenset[int] = frozenset(),
    length_alpha: float = 1.0,  # chosen on Flickr8k dev (0.7 and 1.3 scored lower)
    no_repeat_ngram: int = 3,
    word_bias: np.ndarray | None = None,
    never_after: NeverAfter | None = None,
) -> list[Hypothesis]:
    """Decode n_photos captions; returns the best hypothesis per photo.

    step(tokens (M,), state, photos) -> (log_probs (M, V), new_state, alpha (M, L)) with
    M = len(photos) * beam; `state` is a tuple of arrays whose rows are laid out photo-major
    (the j-th of `photos` owns rows j*beam .. j*beam+beam-1). Once some photos are finished,
    only the others' rows are stepped.

    word_bias: (n_photos, V) added to the log probabilities when choosing words (never to the
    probabilities reported): grounding nudges the decoder towards what the detectors saw.
    never_after: word sequences a caption must never contain (decency.never_after).
    """
    k = beam
    M = n_photos * k
    r = _Rules(k, max_len, end_id, list(banned_ids), repeat_penalty, repeatable_ids, length_alpha,
               no_repeat_ngram, word_bias, never_after)
    scores = np.full((n_photos, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    b = _Books(np.full((M,), start_id, dtype=np.int32), state, scores, np.zeros((M, 0), dtype=np.int32),
               np.zeros((M, 0)), None, [[] for _ in range(n_photos)], np.zeros(n_photos, dtype=bool))
    for t in range(max_len + 1):
        logp, alpha = _step_live(step, b, k)
        V = logp.shape[1]
        total = (b.scores.reshape(M, 1) + _constrain(logp, t, b, r)).reshape(n_photos, k * V)
        n_take = min(2 * k, k * V)
        top = np.argpartition(-total, n_take - 1, axis=1)[:, :n_take]
        new = (np.zeros(M, dtype=np.int64), np.full(M, end_id, dtype=np.int32),
               np.full((n_photos, k), -np.inf))
        for i in range(n_photos):
            if b.done[i]:
                new[0][i * k : (i + 1) * k] = i * k
                continue
            _choose(i, total[i], top[i], logp, alpha, t, b, r, new)
        _advance(b, logp, alpha, new)
        if b.done.all():
            break
    return _best_of(b, k)
