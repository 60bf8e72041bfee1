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

import numpy as np

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
) -> list[Hypothesis]:
    """Decode n_photos captions; returns the best hypothesis per photo.

    step(tokens (M,), state, photos) -> (log_probs (M, V), new_state, alpha (M, L)) with
    M = len(photos) * beam; `state` is a tuple of arrays whose rows are laid out photo-major
    (the j-th of `photos` owns rows j*beam .. j*beam+beam-1). Once some photos are finished,
    only the others' rows are stepped.
    """
    k = beam
    M = n_photos * k
    tokens = np.full((M,), start_id, dtype=np.int32)
    scores = np.full((n_photos, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    hist_tok = np.zeros((M, 0), dtype=np.int32)
    hist_lp = np.zeros((M, 0))
    hist_att = None
    finished: list[list[Hypothesis]] = [[] for _ in range(n_photos)]
    done = np.zeros(n_photos, dtype=bool)
    banned = list(banned_ids)

    for t in range(max_len + 1):
        if done.any():  # finished photos cost nothing more: step only the others' rows
            live = np.flatnonzero(~done)
            rows = (live[:, None] * k + np.arange(k)).ravel()
            logp_live, state_live, alpha_live = step(tokens[rows], tuple(x[rows] for x in state), live)
            logp = np.zeros((M, logp_live.shape[1]))
            logp[rows] = logp_live
            alpha = np.zeros((M, alpha_live.shape[1]), dtype=alpha_live.dtype)
            alpha[rows] = alpha_live
            for x, y in zip(state, state_live, strict=True):  # (state's arrays are our own copies)
                x[rows] = y
        else:
            logp, state, alpha = step(tokens, state, np.arange(n_photos))
            logp = np.asarray(logp, dtype=np.float64)
            alpha = np.asarray(alpha)
        V = logp.shape[1]
        adj = logp.copy()
        if word_bias is not None:
            adj += np.repeat(word_bias, k, axis=0)
        if banned:
            adj[:, banned] = -np.inf
        if t == 0:
            adj[:, end_id] = -np.inf  # no empty captions
        if t == max_len:  # out of room: only <end> may follow
            adj[:, :] = -np.inf
            adj[:, end_id] = logp[:, end_id]
        if t > 0:
            for row in range(M):
                if done[row // k]:  # a finished photo's rows are not read below
                    continue
                hist = hist_tok[row]
                adj[row, hist[-1]] = -np.inf  # never the same word twice in a row ("is is")
                for tok in _ngram_followers(hist, no_repeat_ngram):
                    adj[row, tok] = -np.inf
                if repeat_penalty:
                    used = [x for x in hist if x not in repeatable_ids]
                    if used:
                        adj[row, used] -= repeat_penalty
        total = scores.reshape(M, 1) + adj  # (M, V)
        total = total.reshape(n_photos, k * V)
        n_take = min(2 * k, k * V)
        top = np.argpartition(-total, n_take - 1, axis=1)[:, :n_take]

        new_rows = np.zeros(M, dtype=np.int64)
        new_tok = np.full(M, end_id, dtype=np.int32)
        new_scores = np.full((n_photos, k), -np.inf)
        att_now = alpha
        for i in range(n_photos):
            if done[i]:
                new_rows[i * k : (i + 1) * k] = i * k
                continue
            order = top[i][np.argsort(-total[i, top[i]])]
            slot = 0
            for flat in order:
                s = total[i, flat]
                if not np.isfinite(s):
                    break
                b, tok = divmod(int(flat), V)
                row = i * k + b
                if tok == end_id:
                    n_words = hist_tok.shape[1]
                    lp = float(hist_lp[row].sum() + logp[row, end_id])
                    att = hist_att[row] if hist_att is not None else np.zeros((0, alpha.shape[1]))
                    finished[i].append(Hypothesis(
                        list(map(int, hist_tok[row])), list(map(float, hist_lp[row])), att, lp,
                        float(s) / max(1, n_words + 1) ** length_alpha))
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
            if len(finished[i]) >= k:
                best = max(h.score for h in finished[i])
                live_scores = new_scores[i][np.isfinite(new_scores[i])]
                bound = (live_scores.max() / max(1, t + 2) ** length_alpha
                         if live_scores.size else -np.inf)
                if not live_scores.size or bound < best:
                    done[i] = True
        chosen_lp = logp[new_rows, new_tok]
        hist_tok = np.concatenate([hist_tok[new_rows], new_tok[:, None]], axis=1)
        hist_lp = np.concatenate([hist_lp[new_rows], chosen_lp[:, None]], axis=1)
        step_att = att_now[new_rows][:, None, :]
        hist_att = step_att if hist_att is None else np.concatenate([hist_att[new_rows], step_att], axis=1)
        state = tuple(x[new_rows] for x in state)
        scores = new_scores
        tokens = new_tok
        if done.all():
            break

    best: list[Hypothesis] = []
    for i in range(n_photos):
        if not finished[i]:  # cannot happen with the forced <end>, kept for safety
            row = i * k
            finished[i].append(Hypothesis(list(map(int, hist_tok[row])), list(map(float, hist_lp[row])),
                                          hist_att[row], float(hist_lp[row].sum()), float(scores[i, 0])))
        ranked = sorted(finished[i], key=lambda h: -h.score)
        head, seen = ranked[0], {tuple(ranked[0].token_ids)}
        for h in ranked[1:]:
            if len(head.alternatives) >= k - 1:
                break
            if tuple(h.token_ids) not in seen:
                seen.add(tuple(h.token_ids))
                head.alternatives.append(h)
        best.append(head)
    return best
