"""Personalised ranking as pure functions (no SQLite, no I/O), so each part is unit-testable.

The final score of a candidate tag t for a photo is a sum of log-odds:

    z_t = logit(model_t)                                          "model"
        + w_a * clip(log((P_t + a0) / (N_t + b0)), -inf, a_max)   "approval"
        + w_n * (S_t - R_t) / (W + k_n)                             "neighbours"
        + w_c * max_c n(c, t) / (n(c) + k_c)                        "cooccurrence"
        + w_s * max_s m(s, t) / (m(s) + k_s)                        "cooccurrence" (context)
        + w_l * [t not proposed by the model] + bias                "model"
    score_t = sigmoid(z_t)

- model_t: the captioner/tagger's score (0..1); tags the model did not propose (found in the
  library) start from h_t, the habit model's P(the user keeps t | this photo) (habits.py: a ridge
  regression on what the tag detector sees: "#familytime when a child is in it"), or from
  `model_floor` when t has no habit model. The part h_t adds over the floor is shown as "habit".
- P_t, N_t: the user's approvals (+ hand adds) and rejections (+ later removals) of t, each
  decision weighted 2^(-age / half_life) (recency decay), and each rejection by how right the
  tag was for its photo (`rightness`: the model's calibrated score there), so a rejection
  where the model doubted the tag ("wrong here") barely counts and one where it was sure
  ("never for me") counts whole. log((P+a0)/(N+b0)) is the log-odds of the Beta(a0,
  b0)-smoothed approval rate: 0 with no evidence, so an empty library returns the model's
  order exactly. The positive side is capped (`approval_cap`): liking a tag in general says
  little about whether it fits *this* photo, which is the model's and the neighbours' job.
- S_t, R_t: similarity-weighted votes of the k most similar past photos that approved/added
  (S) or rejected/removed (R) t; W is their total weight. Similarities are rescaled against the
  library's median similarity to the query, so uncentred embeddings (all cosines > 0.5) and
  sparse ones (all near 0) both give weights near 0 for ordinary photos and near 1 for close
  ones. While few photos are reviewed, the median is taken over every photo the library has
  seen, and with fewer than `min_median_rows` of those only near-duplicates vote: a user's
  first decision on a black dog must not reach the bus, the pizza and the bird.
- Where t has a habit model, it is the better-informed vote on this photo: the neighbour and
  context terms (and, for a tag the model did not propose, the approval term, which h_t already
  holds) are multiplied by `habit_damp`. Measured on bench/library_sim.py (real encoder
  features, 5 users): the library's gain in precision@5 after 100 photos went from +0.122 to
  +0.144 with habit models, of the +0.199 that knowing each user's habits exactly would give.
- n(c, t): photos where both c (a tag already chosen on this photo) and t were kept; n(c):
  photos where c was kept.
- m(s, t): reviewed photos where the model suggested s and the user kept t; m(s): reviewed
  photos where the model suggested s. This is co-occurrence with the photo's *suggested* tags,
  and how the library learns "adds #naturelovers whenever #water is suggested" or "prefers
  #beachlife to #beach" even when no similar photo is found.

The weights w start at RankingConfig's values (w_model = 1, w_l = bias = 0: an empty library
gives the model's order) and are then fitted online to the user's decisions by logistic-
regression SGD (`sgd_update`, kept = 1, rejected = 0), pulled towards the defaults.

A tag that the user has rejected (or removed) and never approved or added stays out of the top
five (`is_doubted`) until that evidence changes (an approval, an add, or the user's rules): the
"a tag rejected on every photo never returns to the top 5" guarantee, which a plain score
penalty cannot give against a very confident model. It is still offered just below the top
five, because one rejection may have meant "wrong here" (a user who rejected #pool under a
lawn still wants it on a pool photo); once its rejections weigh `demote_sure` (rejected where
the model was sure of it) it is *demoted*: it sorts after every other tag.

Tags only the library proposes (habits, neighbours', co-occurring ones) enter the top five only
where the photo calls for them (`is_gated`): a habit model's P(kept) of at least `habit_top_min`
with one strong cue in the photo, or a tag the user chose, or the model saw, that it goes with.

Each ranked tag keeps its parts (the log-odds terms above, which sum to logit(score)) and a short
reason for the UI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

SECONDS_PER_DAY = 86_400.0
POSITIVE_STATES = frozenset({"approved", "added"})
NEGATIVE_STATES = frozenset({"rejected", "removed"})
STATES = POSITIVE_STATES | NEGATIVE_STATES


@dataclass(frozen=True)
class RankingConfig:
    """Weights and constants of the ranking; the defaults are what bench/library_sim.py tuned."""

    half_life_days: float = 180.0  # a decision's weight halves every half_life_days
    prior_approve: float = 1.0  # Beta prior a0
    prior_reject: float = 1.0  # Beta prior b0
    w_approval: float = 1.0
    approval_cap: float = 1.0  # most log-odds a general liking may add
    w_neighbours: float = 5.0
    neighbour_shrink: float = 1.0  # k_n: weight of "no evidence" among the neighbours
    w_cooccurrence: float = 3.0
    cooccurrence_shrink: float = 2.0  # k_c
    w_context: float = 3.0
    # lambda of the habit models' ridge regression (0.3 since they read the model's suggestions
    # too; bench/library_sim.py seed 0: five users' share 73% -> 75%; seeds 1-3: 78/73/80 -> 78/72/81)
    habit_ridge: float = 0.3
    habit_min_photos: int = 10  # reviewed photos before the habit models speak
    habit_min_kept: int = 3  # a tag needs this many keeps to get a habit model
    habit_tags: int = 100  # habit models read per photo (the most kept tags)
    habit_candidates: int = 10  # most tags the habit models may add
    habit_candidate_min: float = 0.3  # ... when P(kept) is at least this
    habit_clip: float = 0.02  # P(kept) is clipped to [clip, 1 - clip]
    habit_damp: float = 0.2  # neighbour and context votes count this much for a tag with a habit model
    # A tag only the library proposes (a habit, a neighbour's, a co-occurring one) enters the
    # top `gate_top` only where the photo calls for it: its habit model's P(kept) is at least
    # `habit_top_min` and a strong cue says so (one feature of the photo raising it by
    # `habit_cue_min`, or the tag is kept on `habit_every_photo` of all photos: a signature),
    # or the user chose a tag it goes with (co-occurrence `cooc_cue_min`), or the model saw
    # something the user keeps it with (context `ctx_cue_min`), or close neighbours kept it
    # (support `nb_cue_min`, most of them: `nb_cue_share`). A base rate alone never puts it
    # there.
    gate: bool = True
    gate_top: int = 5
    habit_top_min: float = 0.4
    habit_cue_min: float = 0.1
    habit_every_photo: float = 0.8  # kept on this share of all photos: needs no cue
    cooc_cue_min: float = 0.5
    ctx_cue_min: float = 0.5  # the model suggested a tag the user keeps it with this often
    ctx_habit_min: float = 0.2  # ... and the tag's habit model, if any, does not disagree
    nb_cue_min: float = 0.5  # close neighbours kept it (summed similarity weight) ...
    nb_cue_share: float = 0.5  # ... and most of the similar photos did
    context_shrink: float = 2.0  # k_s
    context_min: float = 0.25  # a suggested tag adds t as a candidate above this rate
    model_floor: float = 0.05  # prior probability of a tag the model did not propose
    model_clip: float = 1e-3  # model scores are clipped to [clip, 1 - clip] before logit
    k: int = 15  # neighbours that vote
    shortlist: int = 128  # neighbours found approximately, then re-ranked exactly
    similarity_power: float = 1.0
    center_min_photos: int = 50  # below this many reviewed photos the index is not centred
    ivf_min_photos: int = 20000  # from this many, the index is an inverted file (k-means)
    ivf_nprobe: int = 16  # clusters searched (of sqrt(n))
    # Neighbours vote only when similar to the query beyond what an ordinary photo of the
    # library is: the baseline is the `similarity_quantile` of the query's similarities to the
    # reviewed photos, or, while fewer than `min_median_rows` are, to all photos it has seen;
    # with fewer than that in all, `similarity_floor`: only near-duplicates vote (pooled CNN
    # features give unrelated photos cosines of 0.4-0.6, burst shots of one scene over 0.9).
    min_median_rows: int = 20
    similarity_quantile: float = 0.5
    similarity_floor: float = 0.85
    library_candidates: int = 25  # most tags the neighbours / co-occurrence may add
    demote_rejected: bool = True
    min_rejections_to_demote: int = 1  # (without rejection_context)
    # A rejection is read in context: how right was the tag for that photo, by the model's own
    # (calibrated) score when the user decided? A tag rejected where the model was sure of it
    # is "never for me"; one rejected where the model doubted it is "wrong here", and weighs
    # little against the tag elsewhere. See `rightness` and `rejection_weight`.
    rejection_context: bool = True
    rightness_floor: float = 0.05  # P(right) of a suggested tag, at least ...
    rightness_cap: float = 0.95  # ... and at most (one rejection weighs at most -log(0.05) = 3)
    rightness_unsuggested: float = 0.15  # a tag the model did not suggest (typed, the library's)
    demote_sure: float = 1.5  # demoted once its rejections weigh this much and it was never kept
    doubt_sure: float = 0.01  # ... and kept out of the top five (gated) from this much
    learn: bool = True  # adapt the weights of the parts to the user's decisions (sgd_update)
    learn_rate: float = 0.05
    learn_l2: float = 0.01

    @classmethod
    def from_overrides(cls, items: list[str]) -> RankingConfig:
        """A config with NAME=VALUE overrides (bench --set options), typed like the defaults."""
        kw = {}
        for item in items:
            name, _, value = item.partition("=")
            kind = type(getattr(cls(), name))
            kw[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
        return cls(**kw)


@dataclass
class TagEvidence:
    """Everything the library knows about one candidate tag for one photo."""

    tag: str
    model: float | None = None  # None: not proposed by the model
    pos_w: float = 0.0  # decayed approvals + adds
    neg_w: float = 0.0  # decayed rejections + removals
    neg_sure: float = 0.0  # decayed rejections + removals, each by its rejection_weight
    approvals: int = 0  # photos where the tag's latest state is approved
    adds: int = 0
    rejections: int = 0
    removals: int = 0
    nb_support: float = 0.0  # S_t
    nb_against: float = 0.0  # R_t
    nb_weight: float = 0.0  # W (the same for every tag of a photo)
    nb_count: int = 0  # similar photos where t was kept (for the reason)
    nb_reject_count: int = 0
    cooc: float = 0.0  # max_c n(c,t)/(n(c)+k_c)
    cooc_with: str | None = None
    cooc_count: int = 0
    ctx: float = 0.0  # max_s n(s kept t)/(n(s)+k_s) over the model's tags s for this photo
    ctx_with: str | None = None
    ctx_count: int = 0
    habit: float | None = None  # P(kept | this photo) from the habit model; None: no model
    habit_kept: int = 0  # photos that kept it
    habit_cue: str | None = None  # what in this photo raises it most ("#child"), for the reason
    habit_lift: float = 0.0  # ... and by how much
    habit_base: float = 0.0  # the share of reviewed photos that kept it (its base rate)
    merged_from: tuple[str, ...] = ()  # synonyms merged into this tag
    own_state: str | None = None  # the user's latest decision on *this* photo


@dataclass
class ScoredTag:
    tag: str
    score: float
    parts: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    demoted: bool = False
    pinned: bool = False  # the user's own choice on this photo: always first
    gated: bool = False  # not in the top five: the library's tag without a strong cue here ...
    doubted: bool = False  # ... or one the user rejected where it may have been right


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def decay_factor(age_seconds: float, half_life_days: float) -> float:
    """Weight of a decision `age_seconds` old (1 now, 1/2 after one half-life)."""
    if half_life_days <= 0:
        return 1.0
    return 2.0 ** (-max(0.0, age_seconds) / (half_life_days * SECONDS_PER_DAY))


def decayed_add(
    value: float, ref_at: float, weight: float, at: float, half_life_days: float
) -> tuple[float, float]:
    """Add `weight` made at time `at` to a decayed sum stored as `value` as of `ref_at`.

    Returns the new (value, ref_at). The reference time only moves forward, so importing an
    old decision adds it already decayed. A negative weight takes a contribution back out (the
    result is clamped at 0 against rounding).
    """
    new_ref = max(ref_at, at)
    new_value = value * decay_factor(new_ref - ref_at, half_life_days)
    new_value += weight * decay_factor(new_ref - at, half_life_days)
    return max(0.0, new_value), new_ref


def decayed_value(value: float, ref_at: float, now: float, half_life_days: float) -> float:
    """A decayed sum stored as of `ref_at`, read at `now`."""
    return value * decay_factor(now - ref_at, half_life_days)


def beta_preference(pos: float, neg: float, a0: float = 1.0, b0: float = 1.0) -> float:
    """Beta(a0, b0)-smoothed approval rate: 0.5 with no evidence (for a0 == b0)."""
    return (pos + a0) / (pos + neg + a0 + b0)


def approval_logodds(pos: float, neg: float, cfg: RankingConfig) -> float:
    """log-odds of the smoothed approval rate, positive side capped (see the module doc)."""
    lo = math.log((pos + cfg.prior_approve) / (neg + cfg.prior_reject))
    return min(lo, cfg.approval_cap)


def similarity_baseline(all_sims: np.ndarray | None, cfg: RankingConfig) -> float:
    """What an ordinary (not similar) photo scores against the query: the similarity that
    `similarity_quantile` of the library's photos reach (the median by default)."""
    if all_sims is None or len(all_sims) < cfg.min_median_rows:
        return cfg.similarity_floor
    sims = np.asarray(all_sims, dtype=np.float32)
    if len(sims) > 4096:  # a strided sample is as good a quantile and 20x cheaper at 100k
        sims = sims[:: len(sims) // 4096]
    mid = min(len(sims) - 1, int(len(sims) * cfg.similarity_quantile))
    return float(np.partition(sims, mid)[mid])


def neighbour_weights(sims: np.ndarray, baseline: float, power: float = 1.0) -> np.ndarray:
    """Map cosine similarities to vote weights in [0, 1]: 0 at or below the baseline, 1 at 1."""
    sims = np.asarray(sims, dtype=np.float64)
    span = max(1e-6, 1.0 - baseline)
    w = np.clip((sims - baseline) / span, 0.0, 1.0)
    return w**power if power != 1.0 else w


@dataclass
class NeighbourVotes:
    support: dict[str, float]
    against: dict[str, float]
    count: dict[str, int]
    reject_count: dict[str, int]
    weight: float  # W


def neighbour_votes(
    weights: Sequence[float],
    kept: Sequence[Iterable[str]],
    rejected: Sequence[Iterable[str]],
) -> NeighbourVotes:
    """Similarity-weighted votes: kept[j] / rejected[j] are neighbour j's tags."""
    support: dict[str, float] = {}
    against: dict[str, float] = {}
    count: dict[str, int] = {}
    reject_count: dict[str, int] = {}
    total = 0.0
    for w, pos, neg in zip(weights, kept, rejected, strict=True):
        w = float(w)
        if w <= 0.0:
            continue
        total += w
        for t in set(pos):
            support[t] = support.get(t, 0.0) + w
            count[t] = count.get(t, 0) + 1
        for t in set(neg):
            against[t] = against.get(t, 0.0) + w
            reject_count[t] = reject_count.get(t, 0) + 1
    return NeighbourVotes(support, against, count, reject_count, total)


def cooccurrence(
    pair_counts: Mapping[tuple[str, str], float],
    kept_counts: Mapping[str, float],
    chosen: Iterable[str],
    candidates: Iterable[str],
    shrink: float = 2.0,
    min_count: int = 2,
) -> dict[str, tuple[float, str, int]]:
    """For each candidate t: (max over chosen c of n(c,t) / (n(c) + shrink), that c, n(c,t)).

    Pairs seen fewer than `min_count` times are ignored: one photo is an anecdote."""
    chosen = [c for c in dict.fromkeys(chosen)]
    out: dict[str, tuple[float, str, int]] = {}
    for t in candidates:
        best: tuple[float, str, int] | None = None
        for c in chosen:
            if c == t:
                continue
            n_ct = pair_counts.get((c, t), 0.0)
            if n_ct < max(1, min_count):
                continue
            value = n_ct / (kept_counts.get(c, n_ct) + shrink)
            if best is None or value > best[0]:
                best = (value, c, int(n_ct))
        if best is not None:
            out[t] = best
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def rightness(score: float | None, source: str | None, cfg: RankingConfig) -> float:
    """P(the tag was right for the photo) when the user decided on it, from what the model
    said: its score, which is calibrated (on Flickr8k train photos, caption and detector tags
    the model scored s were right about s of the time: 0.03 below 0.1, 0.29 at 0.2-0.3, 0.55
    at 0.4-0.5, 0.84 at 0.7-0.8, 0.94 above 0.8) and carries what the detectors saw. Popular
    forms (#dogsofinstagram) are as right as the tag they come from (score / VARIANT_FACTOR).
    A tag the model did not suggest: `rightness_unsuggested`."""
    if score is None:
        return cfg.rightness_unsuggested
    p = float(score)
    if source == "popular":
        p = p / VARIANT_FACTOR
    return min(max(p, cfg.rightness_floor), cfg.rightness_cap)


# tagging.variants.VARIANT_FACTOR (a popular form's score / its base's; a test holds them equal:
# ranking stays free of the tagging code's imports)
VARIANT_FACTOR = 0.15


def rejection_weight(right: float) -> float:
    """How much one rejection counts against the tag: `right`, the chance it was right there.

    Why: with u the user's taste (P(kept | the tag is right for the photo)), rejecting a tag
    that is right with probability r has likelihood 1 - u r ~ (1 - u)^r, so the rejections are
    r-weighted failures of a Beta-Bernoulli: u ~ Beta(a0 + kept, b0 + sum r). A tag rejected
    where the model doubted it (r 0.05) is "wrong here" and barely counts; one rejected where
    the model was sure (r 0.95) counts as a whole "not for me"."""
    return right


def is_demoted(ev: TagEvidence, cfg: RankingConfig) -> bool:
    """Never kept, and rejected (or removed) enough to say "never for me": rejections that
    weigh `demote_sure` (with rejection_context), else `min_rejections_to_demote` of them."""
    if not cfg.demote_rejected or ev.approvals + ev.adds > 0:
        return False
    if cfg.rejection_context:
        return ev.neg_sure >= cfg.demote_sure - 1e-9
    return ev.rejections + ev.removals >= max(1, cfg.min_rejections_to_demote)


FEATURES = ("model", "library", "approval", "neighbours", "cooccurrence", "context", "bias")
# Signs the learner may not flip: more model confidence, approvals, neighbour votes or
# co-occurrence must never lower a tag.
NONNEGATIVE = frozenset({"model", "approval", "neighbours", "cooccurrence", "context"})


def default_weights(cfg: RankingConfig) -> dict[str, float]:
    """The weights before any learning: z = logit(model) + the personal terms."""
    return {
        "model": 1.0,
        "library": 0.0,
        "approval": cfg.w_approval,
        "neighbours": cfg.w_neighbours,
        "cooccurrence": cfg.w_cooccurrence,
        "context": cfg.w_context,
        "bias": 0.0,
    }


def features(ev: TagEvidence, cfg: RankingConfig) -> dict[str, float]:
    """The inputs of the score (see the module doc); the score is sigmoid(weights . features)."""
    if ev.model is None:
        p_model = cfg.model_floor
        if ev.habit is not None:
            p_model = min(max(float(ev.habit), cfg.habit_clip), 1.0 - cfg.habit_clip)
    else:
        p_model = min(max(float(ev.model), cfg.model_clip), 1.0 - cfg.model_clip)
    nb = 0.0
    if ev.nb_weight > 0.0:
        nb = (ev.nb_support - ev.nb_against) / (ev.nb_weight + cfg.neighbour_shrink)
    # Where a habit model speaks, it is the better-informed vote on this photo: neighbour and
    # context votes count less, and for a tag the model did not propose (whose prior P(kept |
    # photo) already holds the user's general liking of it) so does the approval rate.
    damp = 1.0 if ev.habit is None else cfg.habit_damp
    return {
        "model": logit(p_model),
        "library": 1.0 if ev.model is None else 0.0,
        "approval": approval_logodds(ev.pos_w, ev.neg_sure if cfg.rejection_context else ev.neg_w,
                                     cfg) * (damp if ev.model is None else 1),
        "neighbours": nb * damp,
        "cooccurrence": ev.cooc,
        "context": ev.ctx * damp,
        "bias": 1.0,
    }


def sgd_update(
    weights: Mapping[str, float],
    examples: Iterable[tuple[Mapping[str, float], float]],
    cfg: RankingConfig,
) -> dict[str, float]:
    """One pass of logistic-regression SGD over (features, label) pairs, label 1 = kept.

    This is how the weights of the parts adapt to the user (e.g. a user who keeps few of the
    model's tags but many of the tags found on similar photos). An L2 pull towards the defaults
    keeps a few decisions from swinging the ranking; NONNEGATIVE weights stay >= 0.
    """
    w = {k: float(weights.get(k, v)) for k, v in default_weights(cfg).items()}
    prior = default_weights(cfg)
    for x, y in examples:
        z = sum(w[k] * x.get(k, 0.0) for k in FEATURES)
        err = sigmoid(z) - float(y)
        for k in FEATURES:
            grad = err * x.get(k, 0.0) + cfg.learn_l2 * (w[k] - prior[k])
            w[k] -= cfg.learn_rate * grad
            if k in NONNEGATIVE and w[k] < 0.0:
                w[k] = 0.0
    return w


def score_tag(
    ev: TagEvidence, cfg: RankingConfig, weights: Mapping[str, float] | None = None
) -> ScoredTag:
    """Combine one tag's evidence into a score, its parts and a reason (see the module doc).

    parts: "model" (model, library and bias terms), "approval", "neighbours", "cooccurrence"
    (with the chosen tags and with the model's other tags), each a log-odds contribution; they
    sum to logit(score).
    """
    w = default_weights(cfg) if weights is None else weights
    x = features(ev, cfg)
    # The habit model's share of the "model" term, shown as a part of its own (and the reason).
    habit = None
    if ev.model is None and ev.habit is not None:
        habit = w["model"] * (x["model"] - logit(cfg.model_floor))
    parts = {
        "model": w["model"] * x["model"] - (habit or 0.0) + w["library"] * x["library"] + w["bias"],
        "approval": w["approval"] * x["approval"],
        "neighbours": w["neighbours"] * x["neighbours"],
        "cooccurrence": w["cooccurrence"] * x["cooccurrence"] + w["context"] * x["context"],
    }
    if habit is not None:
        parts["habit"] = habit
    z = sum(parts.values())
    demoted = is_demoted(ev, cfg)
    pinned = ev.own_state in POSITIVE_STATES
    if ev.own_state in NEGATIVE_STATES:
        demoted = True
    return ScoredTag(
        tag=ev.tag,
        score=sigmoid(z),
        parts=parts,
        reason=explain(ev, parts, demoted, cfg),
        demoted=demoted,
        pinned=pinned,
    )


def explain(ev: TagEvidence, parts: Mapping[str, float], demoted: bool, cfg: RankingConfig) -> str:
    """One sentence for a tooltip: the strongest personal reason, else the model's."""
    if ev.own_state == "added":
        return "you added this to this photo"
    if ev.own_state == "approved":
        return "you approved this for this photo"
    if ev.own_state in NEGATIVE_STATES:
        return f"you {ev.own_state} this on this photo"
    kept = ev.approvals + ev.adds
    dropped = ev.rejections + ev.removals
    if demoted:
        if dropped == 1:
            return "you rejected this the one time it was suggested"
        return f"you rejected this on all {dropped} photos it was suggested for"
    if is_doubted(ev, cfg):
        return (f"you rejected this on {_plural(dropped, 'photo')}, where it may not have "
                "fitted: offered again below the top five until you keep it")
    personal = {k: v for k, v in parts.items() if k != "model"}
    key, value = max(personal.items(), key=lambda kv: abs(kv[1]), default=("", 0.0))
    if abs(value) < 0.3:
        if ev.model is None:
            return "from your library"
        merged = f" (merged with {', '.join(ev.merged_from)})" if ev.merged_from else ""
        return "suggested from the photo" + merged
    if key == "habit":
        if value > 0:
            like = f"with {ev.habit_cue}" if ev.habit_cue and ev.habit_cue != ev.tag else "like this one"
            often = "often" if ev.habit >= 0.5 else "sometimes"
            return (f"you {often} use this on photos {like} ({ev.habit:.0%} likely; kept on "
                    f"{_plural(ev.habit_kept, 'photo')})")
        return f"you seldom use this on photos like this one (kept on {_plural(ev.habit_kept, 'photo')})"
    if key == "neighbours":
        if value > 0:
            return f"you used this on {_plural(ev.nb_count, 'similar photo')}"
        return f"you rejected this on {_plural(ev.nb_reject_count, 'similar photo')}"
    if key == "cooccurrence":
        if ev.cooc_with and (cfg.w_cooccurrence * ev.cooc >= cfg.w_context * ev.ctx):
            return f"you used this with {ev.cooc_with} on {_plural(ev.cooc_count, 'photo')}"
        return f"you used this on {_plural(ev.ctx_count, 'photo')} where {ev.ctx_with} was suggested"
    if value > 0:
        return f"you kept this on {_plural(kept, 'photo')}" + (
            f" and rejected it on {dropped}" if dropped else ""
        )
    return f"you rejected this {_plural(dropped, 'time')}" + (
        f" and kept it {_plural(kept, 'time')}" if kept else ""
    )


def is_doubted(ev: TagEvidence, cfg: RankingConfig) -> bool:
    """Rejected where it may have been right (rejections weighing `doubt_sure`) and never
    kept: offered again, but below the top five, until the user keeps it somewhere (a second
    look, not a burial: a "wrong here" rejection must not hide it for good)."""
    return (cfg.gate and cfg.rejection_context and ev.own_state is None
            and ev.approvals + ev.adds == 0 and ev.neg_sure >= cfg.doubt_sure - 1e-9)


def is_gated(ev: TagEvidence, cfg: RankingConfig) -> bool:
    """May be offered, but not in the top five: a tag only the library proposes without a
    strong cue on this photo (see RankingConfig: gate)."""
    if not cfg.gate or ev.own_state is not None or ev.model is not None:
        return False
    if ev.habit is not None and ev.habit >= cfg.habit_top_min and (
            ev.habit_lift >= cfg.habit_cue_min or ev.habit_base >= cfg.habit_every_photo):
        return False
    ctx_cue = ev.ctx >= cfg.ctx_cue_min and (ev.habit is None or ev.habit >= cfg.ctx_habit_min)
    votes = ev.nb_support - ev.nb_against
    nb_cue = votes >= cfg.nb_cue_min and votes >= cfg.nb_cue_share * ev.nb_weight
    return not (ctx_cue or nb_cue or ev.cooc >= cfg.cooc_cue_min)


def rank_evidence(
    evidence: Iterable[TagEvidence],
    cfg: RankingConfig,
    order: Mapping[str, int] | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[ScoredTag]:
    """Score every tag and sort: the user's own choices, then normal tags, then demoted ones;
    ties keep the model's order (`order`: tag -> position in the model's list). Gated tags
    (is_gated) come after the top `gate_top`."""
    evidence = list(evidence)
    scored = [score_tag(ev, cfg, weights) for ev in evidence]
    for s, ev in zip(scored, evidence, strict=True):
        s.doubted = not s.demoted and is_doubted(ev, cfg)
        s.gated = not s.demoted and (s.doubted or is_gated(ev, cfg))
    order = order or {}
    big = len(order) + 1
    scored.sort(key=lambda s: (not s.pinned, s.demoted, -s.score, order.get(s.tag, big), s.tag))
    if not any(s.gated for s in scored):
        return scored
    top = [s for s in scored if not s.gated and not s.demoted][: cfg.gate_top]
    if len(top) < cfg.gate_top:  # a short list: the library's weaker tags before doubted ones
        top += [s for s in scored if s.gated and not s.doubted][: cfg.gate_top - len(top)]
    in_top = {id(s) for s in top}  # (by identity: a dataclass == compares every field)
    rest = [s for s in scored if id(s) not in in_top and not s.demoted]
    return top + rest + [s for s in scored if s.demoted]
