"""The pure ranking functions (no SQLite)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from desktop_app.library import ranking
from desktop_app.library.ranking import RankingConfig, TagEvidence

CFG = RankingConfig()
DAY = ranking.SECONDS_PER_DAY


def test_decay_halves_every_half_life():
    assert ranking.decay_factor(0, 30) == 1.0
    assert ranking.decay_factor(30 * DAY, 30) == pytest.approx(0.5)
    assert ranking.decay_factor(60 * DAY, 30) == pytest.approx(0.25)
    assert ranking.decay_factor(-5, 30) == 1.0  # a clock that went back does not inflate


def test_decayed_sum_adds_and_takes_back():
    v, ref = ranking.decayed_add(0.0, 0.0, 1.0, 100.0, 30)
    v, ref = ranking.decayed_add(v, ref, 1.0, 100.0 + 30 * DAY, 30)
    assert ref == 100.0 + 30 * DAY
    assert v == pytest.approx(1.5)  # the first decision is one half-life old
    v, ref = ranking.decayed_add(v, ref, -1.0, 100.0, 30)  # take the first one back out
    assert v == pytest.approx(1.0)
    # an old (imported) decision arrives already decayed and does not move ref back
    v2, ref2 = ranking.decayed_add(v, ref, 1.0, 100.0, 30)
    assert ref2 == ref and v2 == pytest.approx(1.5)
    assert ranking.decayed_value(1.0, 0.0, 30 * DAY, 30) == pytest.approx(0.5)


def test_beta_smoothing_is_neutral_without_evidence():
    assert ranking.beta_preference(0, 0) == 0.5
    assert ranking.beta_preference(3, 0) == pytest.approx(0.8)
    assert ranking.approval_logodds(0, 0, CFG) == 0.0
    assert ranking.approval_logodds(0, 3, CFG) == pytest.approx(math.log(1 / 4))
    assert ranking.approval_logodds(100, 0, CFG) == CFG.approval_cap


def test_neighbour_weights_use_the_baseline():
    w = ranking.neighbour_weights(np.array([0.9, 0.6, 0.5, 0.2]), baseline=0.5)
    assert w.tolist() == pytest.approx([0.8, 0.2, 0.0, 0.0])
    sims = np.linspace(0, 1, 101)
    assert ranking.similarity_baseline(sims, CFG) == pytest.approx(0.5)
    assert ranking.similarity_baseline(sims[:5], CFG) == CFG.similarity_floor


def test_neighbour_votes_and_cooccurrence():
    v = ranking.neighbour_votes([1.0, 0.5, 0.0], [["#a", "#b"], ["#a"], ["#c"]], [[], ["#b"], []])
    assert v.support == {"#a": 1.5, "#b": 1.0}
    assert v.against == {"#b": 0.5}
    assert v.count == {"#a": 2, "#b": 1}
    assert v.weight == 1.5
    co = ranking.cooccurrence(
        {("#x", "#t"): 4, ("#y", "#t"): 1}, {"#x": 6, "#y": 1}, ["#x", "#y"], ["#t", "#u"], 2.0
    )
    assert co == {"#t": (0.5, "#x", 4)}


def test_empty_evidence_keeps_the_model_order_and_score():
    evs = [TagEvidence("#a", 0.3), TagEvidence("#b", 0.9), TagEvidence("#c", 0.6)]
    scored = ranking.rank_evidence(evs, CFG)
    assert [s.tag for s in scored] == ["#b", "#c", "#a"]
    assert [s.score for s in scored] == pytest.approx([0.9, 0.6, 0.3])
    assert all(s.reason == "suggested from the photo" for s in scored)


def test_parts_sum_to_the_score_logit():
    ev = TagEvidence("#a", 0.7, pos_w=3, neg_w=1, approvals=3, rejections=1, nb_support=2.0,
                     nb_weight=3.0, nb_count=4, cooc=0.5, cooc_with="#b", cooc_count=5)
    s = ranking.score_tag(ev, CFG)
    assert sum(s.parts.values()) == pytest.approx(ranking.logit(s.score))
    assert set(s.parts) == {"model", "approval", "neighbours", "cooccurrence"}
    assert s.reason == "you used this on 4 similar photos"


def test_a_tag_rejected_where_the_model_was_sure_is_demoted_below_everything():
    # rejected twice where the model was 90 % sure of it: "never for me"
    rejected = TagEvidence("#man", 0.99, neg_w=2.0, neg_sure=1.8, rejections=2)
    other = TagEvidence("#weak", 0.05)
    scored = ranking.rank_evidence([rejected, other], CFG)
    assert [s.tag for s in scored] == ["#weak", "#man"]
    assert scored[1].demoted
    assert "rejected" in scored[1].reason
    # one approval is new evidence: no longer demoted
    rejected.approvals, rejected.pos_w = 1, 1.0
    assert not ranking.score_tag(rejected, CFG).demoted


def test_a_tag_rejected_where_the_model_doubted_it_is_only_kept_below_the_top_five():
    # rejected once where the model gave it 10 %: "wrong here", says little about this photo
    doubted = TagEvidence("#pool", 0.9, neg_w=1.0, neg_sure=ranking.rejection_weight(0.1),
                          rejections=1)
    others = [TagEvidence(f"#t{i}", 0.5 - i / 20) for i in range(6)]
    never = TagEvidence("#man", 0.95, neg_w=2.0, neg_sure=1.9, rejections=2)
    scored = ranking.rank_evidence([doubted, never, *others], CFG)
    order = [s.tag for s in scored]
    assert order.index("#pool") == 5  # right after the top five: the user sees it again
    assert order[-1] == "#man"  # buried: never kept, and rejected where it was right
    assert not scored[5].demoted and "below the top five" in scored[5].reason
    # with fewer than five other tags it is still shown, after them
    assert [s.tag for s in ranking.rank_evidence([doubted, *others[:2]], CFG)] == [
        "#t0", "#t1", "#pool"]
    # its rejection weighs little against it: a sure rejection weighs far more
    assert ranking.rejection_weight(0.1) < 0.2 < 0.9 <= ranking.rejection_weight(0.95)


def test_rightness_is_the_models_calibrated_score():
    assert ranking.rightness(0.8, "caption", CFG) == pytest.approx(0.8)
    assert ranking.rightness(0.0, "detector", CFG) == CFG.rightness_floor
    assert ranking.rightness(1.0, "caption", CFG) == CFG.rightness_cap
    # a popular form (#dogsofinstagram) is as right as the tag it comes from
    assert ranking.rightness(0.12, "popular", CFG) == pytest.approx(0.8)
    assert ranking.rightness(None, None, CFG) == CFG.rightness_unsuggested


def test_own_decisions_pin_or_demote():
    evs = [TagEvidence("#mine", 0.1, own_state="added"), TagEvidence("#a", 0.9),
           TagEvidence("#no", 0.95, own_state="rejected")]
    assert [s.tag for s in ranking.rank_evidence(evs, CFG)] == ["#mine", "#a", "#no"]


def test_sgd_learns_to_trust_neighbours_and_keeps_signs():
    w0 = ranking.default_weights(CFG)
    kept = {"model": -2.9, "library": 1.0, "approval": 0.0, "neighbours": 0.8, "cooccurrence": 0.0,
            "context": 0.0, "bias": 1.0}
    dropped = {"model": 1.4, "library": 0.0, "approval": 0.0, "neighbours": 0.0,
               "cooccurrence": 0.0, "context": 0.0, "bias": 1.0}
    w = w0
    for _ in range(50):
        w = ranking.sgd_update(w, [(kept, 1.0), (dropped, 0.0)], CFG)
    assert w["neighbours"] > w0["neighbours"]
    assert w["library"] > 0
    assert all(w[k] >= 0 for k in ranking.NONNEGATIVE)
    # a library tag with strong neighbour support now outranks an unsupported model tag
    z = lambda x: sum(w[k] * x[k] for k in ranking.FEATURES)  # noqa: E731
    assert z(kept) > z(dropped)


def test_the_popular_forms_factor_is_the_taggers():
    from desktop_app.tagging import variants

    assert ranking.VARIANT_FACTOR == variants.VARIANT_FACTOR
