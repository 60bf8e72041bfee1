"""A new user's first decisions help the photos they belong to and nothing else.

Embeddings here are like pooled CNN features: all positive, so unrelated photos have cosines
of ~0.55 and photos of the same subject ~0.83 (a library that took "more similar than 0" as
similar made every photo a neighbour of every other).
"""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.library.store import TagLibrary

from .conftest import cands, result

# subject -> the model's tags for its photos, and the tag the user adds to them by hand
SUBJECTS = {
    0: ((("#bus", 0.8), ("#street", 0.45), ("#city", 0.3), ("#road", 0.2), ("#sign", 0.1)), "#commute"),
    1: ((("#blackdog", 0.8), ("#dog", 0.5), ("#bed", 0.3), ("#floor", 0.2), ("#rug", 0.1)), "#puppylove"),
    2: ((("#pizza", 0.8), ("#food", 0.45), ("#plate", 0.3), ("#table", 0.2), ("#cheese", 0.1)), "#foodie"),
    3: ((("#bird", 0.8), ("#branch", 0.45), ("#sky", 0.3), ("#tree", 0.2), ("#leaf", 0.1)), "#birdwatching"),
    4: ((("#beach", 0.8), ("#sand", 0.45), ("#sea", 0.3), ("#wave", 0.2), ("#shell", 0.1)), "#summervibes"),
}
HABITS = {added for _, added in SUBJECTS.values()}


def photo(subject: int, seed: int, dim: int = 1024) -> np.ndarray:
    rng = np.random.default_rng(seed * 1000 + subject)
    x = np.full(dim, 0.35, np.float32) + rng.standard_normal(dim).astype(np.float32) * 0.25
    x[subject * 64 : (subject + 1) * 64] += 1.2
    return np.maximum(x, 0.0)


def model(subject: int):
    return cands(*SUBJECTS[subject][0])


def tagged_library(tmp_path, photos_per_subject: int) -> TagLibrary:
    """A library that has tagged (not yet reviewed) photos of every subject."""
    lib = TagLibrary.open(tmp_path / "lib", habit_features=None)
    for seed in range(photos_per_subject):
        for s in SUBJECTS:
            lib.record_result(result(f"s{s}-{seed}", model(s), photo(s, seed)), 1.0, 10, "m")
    return lib


def decide(lib: TagLibrary, subject: int, seed: int) -> None:
    tags, added = SUBJECTS[subject]
    lib.record_decisions(f"s{subject}-{seed}", approve=[tags[0][0], tags[1][0]],
                         reject=[tags[3][0]], add=[added])


def top5(lib: TagLibrary, subject: int, seed: int = 99) -> list[str]:
    return [s.tag for s in lib.rank(model(subject), photo(subject, seed), limit=5)]


@pytest.mark.parametrize("n_decisions", [1, 5, 20])
def test_first_decisions_help_only_the_photos_they_belong_to(tmp_path, n_decisions):
    lib = tagged_library(tmp_path, photos_per_subject=6)  # 30 photos tagged, none reviewed
    try:
        decided = [(i % 5 if n_decisions > 1 else 1, i // 5) for i in range(n_decisions)]
        for subject, seed in decided:
            decide(lib, subject, seed)
        taught = {s for s, _ in decided}
        for s in SUBJECTS:
            got = top5(lib, s)
            own_tag = SUBJECTS[s][1]
            # the photo's own best tag stays first, and no other subject's tag comes in
            assert got[0] == SUBJECTS[s][0][0][0], (s, got)
            assert not (HABITS - {own_tag}) & set(got), (s, got)
            if s in taught:  # what the user added to photos like this one is offered here
                assert own_tag in got, (s, got)
            else:
                assert got == [t for t, _ in SUBJECTS[s][0]], (s, got)  # the model's order
    finally:
        lib.close()


def test_with_too_few_photos_to_compare_only_a_near_duplicate_is_a_neighbour(tmp_path):
    with TagLibrary.open(tmp_path / "lib", habit_features=None) as lib:
        for s in (1, 3):  # a library that has seen two photos
            lib.record_result(result(f"s{s}-0", model(s), photo(s, 0)), 1.0, 10, "m")
        decide(lib, 1, 0)
        bird = top5(lib, 3)
        assert bird == [t for t, _ in SUBJECTS[3][0]]  # untouched: the model's order
        same_subject = top5(lib, 1)  # cosine ~0.83: similar, but nothing to calibrate against
        assert "#puppylove" not in same_subject
        burst = photo(1, 0) + np.random.default_rng(7).random(1024).astype(np.float32) * 0.05
        twin = [s.tag for s in lib.rank(model(1), burst, limit=5)]  # cosine > 0.99
        assert "#puppylove" in twin


def test_the_reason_names_only_truly_similar_photos(tmp_path):
    lib = tagged_library(tmp_path, photos_per_subject=6)
    try:
        decide(lib, 1, 0)
        pizza = lib.rank(model(2), photo(2, 99), limit=30)
        assert all(s.parts["neighbours"] == 0 for s in pizza)
        assert not any("similar photo" in s.reason for s in pizza)
        dog = {s.tag: s for s in lib.rank(model(1), photo(1, 99), limit=30)}
        assert dog["#puppylove"].parts["neighbours"] > 0.5
        assert dog["#puppylove"].reason == "you used this on 1 similar photo"
    finally:
        lib.close()
