"""Habit models: conditional habits learned online, kept exact through every kind of change."""

from __future__ import annotations

import signal
import sqlite3

import numpy as np
import pytest

from desktop_app.library import habits, migrations
from desktop_app.library.store import DB_NAME, TagLibrary

from .conftest import BlockFeatures, SuggestedBlockFeatures, cands, embedding, result, scene
from .test_safety import child

CHILD, BEACH, KITCHEN, DOG = 1, 3, 5, 7
MODEL = cands(("#sand", 0.6), ("#table", 0.55), ("#light", 0.5), ("#wall", 0.45), ("#floor", 0.4))


def tags(ranked):
    return [s.tag for s in ranked]


def family_adds(i, with_child):
    return ["#familytime"] if with_child else []


def review_family_photos(lib, n=24, adds=family_adds):
    """A parent's photos: beach or kitchen, with or without a child; #sand or #table kept, and
    `adds(i, with_child)` added (by default #familytime iff a child)."""
    for i in range(n):
        place = BEACH if i % 2 else KITCHEN
        with_child = i % 4 < 2
        h = f"p{i}"
        emb = scene(place, CHILD, seed=i) if with_child else embedding(place, seed=i)
        lib.record_result(result(h, MODEL, emb), 1.0, 10, "m")
        lib.record_decisions(h, approve=["#sand"] if place == BEACH else ["#table"],
                             add=adds(i, with_child))


def test_a_conditional_habit_follows_what_is_in_the_photo(habit_lib):
    review_family_photos(habit_lib)
    kid_in_kitchen = habit_lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99), limit=10)
    assert tags(kid_in_kitchen)[0] == "#familytime"
    top = kid_in_kitchen[0]
    assert top.source == "library" and top.parts["habit"] > 1.0
    assert top.reason.startswith("you often use this on photos with #child (")
    assert habit_lib.stats()["habit_tags"] == 3  # #familytime, #sand, #table
    prefs = {p.tag: p for p in habit_lib.tag_preferences()}
    assert prefs["#familytime"].when == ("#child",)  # what the library learned, in words
    assert prefs["#sand"].when[0] == "#beach"
    empty_kitchen = habit_lib.rank(MODEL, embedding(KITCHEN, seed=98), limit=10)
    assert "#familytime" not in tags(empty_kitchen)[:5]


def test_no_habit_models_before_enough_photos_or_without_features(tmp_path, clock):
    with TagLibrary.open(tmp_path / "few", clock=clock, habit_features=BlockFeatures()) as lib:
        review_family_photos(lib, n=4)  # under habit_min_photos
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))
        assert all("habit" not in s.parts for s in ranked)
    with TagLibrary.open(tmp_path / "none", clock=clock, habit_features=None) as lib:
        review_family_photos(lib)
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))
        assert all("habit" not in s.parts for s in ranked)


def stored_sums(folder):
    conn = sqlite3.connect(folder / DB_NAME)
    try:
        key, n, gram = conn.execute("SELECT key, n, gram FROM habit_gram").fetchone()
        sums = {t: (k, np.frombuffer(v)) for t, k, v in conn.execute(
            "SELECT tag, n, vec FROM habit_sums")}
        return key, n, np.frombuffer(gram), sums
    finally:
        conn.close()


def assert_sums_equal(a, b):
    assert a[:2] == b[:2]
    np.testing.assert_allclose(a[2], b[2], atol=1e-9)
    assert a[3].keys() == b[3].keys()
    for t in a[3]:
        assert a[3][t][0] == b[3][t][0], t
        np.testing.assert_allclose(a[3][t][1], b[3][t][1], atol=1e-9)


@pytest.mark.parametrize("features", [BlockFeatures, SuggestedBlockFeatures])
def test_online_sums_equal_a_rebuild_after_undo_retag_and_import(tmp_path, clock, features):
    folder = tmp_path / "lib"
    BlockFeatures = features  # noqa: N806 (the features under test, for every open below)
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        review_family_photos(lib, n=12)
        lib.record_decisions("p0", remove=["#familytime"])  # changed their mind
        lib.record_decisions("p1", approve=["#familytime"])
        lib.record_result(result("p2", MODEL, embedding(DOG, seed=5)), 2.0, 10, "m2")  # re-tagged
        # re-captioned: the same embedding, new suggestions (the suggested features move)
        lib.record_result(result("p3", cands(("#child", 0.9)) + MODEL, scene(BEACH, CHILD, seed=3)),
                          3.0, 10, "m3")
        lib.record_decisions("new", add=["#dog"])  # feedback before the photo was ever tagged
        lib.record_result(result("new", MODEL, embedding(DOG, seed=6)), 2.0, 10, "m2")
        export = tmp_path / "backup.json"
        lib.export_json(export)
    online = stored_sums(folder)
    assert online[1] == 13 and online[3]["#familytime"][0] == 5  # 6 kept it, one removed
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        lib.rebuild_aggregates()
    assert_sums_equal(online, stored_sums(folder))
    with TagLibrary.open(tmp_path / "copy", clock=clock, habit_features=BlockFeatures()) as lib:
        lib.import_json(export)
    assert_sums_equal(online, stored_sums(tmp_path / "copy"))


class OtherFeatures(BlockFeatures):
    key = "test-blocks-v2"  # e.g. a new tag detector after an update


def test_sums_built_with_other_features_are_rebuilt_not_misread(tmp_path, clock):
    folder = tmp_path / "lib"
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        review_family_photos(lib)
    with TagLibrary.open(folder, clock=clock, habit_features=OtherFeatures()) as lib:
        lib.record_decisions("p0", approve=["#table"])  # a write first: it rebuilds them
        assert stored_sums(folder)[0] == "test-blocks-v2"
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        assert lib.readonly is False
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))  # the first ranking does
        assert tags(ranked)[0] == "#familytime"
    assert stored_sums(folder)[0] == "test-blocks"
    with TagLibrary.open(folder, readonly=True, habit_features=OtherFeatures()) as lib:
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))  # cannot rebuild: not used
        assert all("habit" not in s.parts for s in ranked)


def test_ridge_predictions_and_deltas():
    phi = lambda child: np.array([float(child), 1.0])  # noqa: E731
    parts = [habits.PhotoPart(phi(i % 2), frozenset({"#kids"} if i % 2 else set())) for i in range(20)]
    gram = np.zeros((2, 2))
    sums: dict[str, np.ndarray] = {}
    for part in parts:
        dg, db = habits.delta(None, part)
        gram += dg
        for t, v in db.items():
            sums[t] = sums.get(t, 0) + v
    models = habits.HabitModels.fit(gram, sums, {"#kids": 10}, ridge=0.1)
    kids = lambda child: {h.tag: h.p for h in models.explain(phi(child))}["#kids"]  # noqa: E731
    p, q = kids(1), kids(0)
    assert p > 0.9 and q < 0.05
    # a photo that stops keeping the tag takes its term back out; same phi -> G unchanged
    dg, db = habits.delta(parts[1], habits.PhotoPart(phi(1), frozenset()))
    assert dg is None and np.allclose(db["#kids"], -phi(1))


def test_killed_writer_leaves_habit_sums_matching_the_log(tmp_path):
    folder = tmp_path / "lib"
    code = """
        import sys
        import numpy as np
        from desktop_app.library.store import TagLibrary
        from desktop_app.results import CaptionResult, HashtagSuggestion, PhotoResult
        from tests.library.conftest import BlockFeatures, embedding, result, cands
        lib = TagLibrary.open(sys.argv[1], habit_features=BlockFeatures())
        i = 0
        while True:
            h = f"photo{i % 30}"
            lib.record_result(result(h, cands(("#a", 0.5)), embedding(i % 9, seed=i)), 1.0, 1, "m")
            lib.record_decisions(h, approve=[f"#t{i % 7}"], add=["#mine"] if i % 3 else [],
                                 remove=["#mine"] if i % 3 == 0 else [])
            print(i, flush=True)
            i += 1
    """
    proc = child(code, str(folder))
    try:
        for _ in range(60):
            assert proc.stdout.readline(), proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    online = stored_sums(folder)
    with TagLibrary.open(folder, habit_features=BlockFeatures()) as lib:
        assert lib.check() == ["ok"]
        lib.rebuild_aggregates()
    assert_sums_equal(online, stored_sums(folder))


def test_a_library_from_before_habit_models_gets_them_on_its_first_ranking(tmp_path, clock):
    folder = tmp_path / "lib"
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        review_family_photos(lib)
    conn = sqlite3.connect(folder / DB_NAME)  # as schema 2 left it
    conn.executescript("DROP TABLE habit_sums; DROP TABLE habit_gram; "
                       "ALTER TABLE photo_tags DROP COLUMN sure; "
                       "ALTER TABLE tag_stats DROP COLUMN neg_sure; PRAGMA user_version = 2;")
    conn.close()
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        assert lib.stats()["schema_version"] == migrations.SCHEMA_VERSION
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))
        assert tags(ranked)[0] == "#familytime" and "habit" in ranked[0].parts
    assert (folder / f"{DB_NAME}.v2.bak").exists()


def test_damaged_habit_sums_are_ignored_then_rebuilt_and_lose_nothing(tmp_path, clock):
    folder = tmp_path / "lib"
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        review_family_photos(lib)
    good = stored_sums(folder)
    conn = sqlite3.connect(folder / DB_NAME)
    conn.execute("UPDATE habit_gram SET gram = x'00ff'")
    conn.execute("UPDATE habit_sums SET vec = x'0102' WHERE tag = '#sand'")
    conn.commit()
    conn.close()
    with TagLibrary.open(folder, clock=clock, habit_features=BlockFeatures()) as lib:
        ranked = lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99))  # no error, no habit models
        assert all("habit" not in s.parts for s in ranked)
        lib.record_decisions("p2", approve=["#table"])  # the next decision repairs them
        assert tags(lib.rank(MODEL, scene(KITCHEN, CHILD, seed=99)))[0] == "#familytime"
    assert_sums_equal(good, stored_sums(folder))  # (p2 had kept #table already: same sums)


def test_a_habit_enters_the_top_five_only_where_the_photo_calls_for_it(habit_lib):
    """#familytime follows a child; #mood is added to every other photo whatever it shows: its
    base rate (50 %) alone never puts it in the top five; #nofilter is on every photo."""
    review_family_photos(habit_lib, adds=lambda i, with_child: (
        ["#nofilter"] + family_adds(i, with_child) + (["#mood"] if i % 3 == 0 else [])))
    weak = cands(("#wall", 0.2), ("#floor", 0.15), ("#light", 0.1))  # a photo the model doubts
    kid = tags(habit_lib.rank(weak, scene(KITCHEN, CHILD, seed=99), limit=10))
    empty = tags(habit_lib.rank(weak, embedding(KITCHEN, seed=98), limit=10))
    assert "#familytime" in kid[:5] and "#familytime" not in empty[:5]
    assert "#nofilter" in kid[:5] and "#nofilter" in empty[:5]
    assert "#mood" not in kid[:5] and "#mood" not in empty[:5]
    assert "#mood" in kid  # still offered, below the top five


def test_a_habit_learned_from_what_the_model_said_fires_where_it_says_it_again(tmp_path, clock):
    """The user adds #familytime wherever the model saw a child (the photos look alike
    otherwise): after 24 photos the habit enters the top five on a new photo the model calls
    #child, and stays out of it on one it does not."""
    with TagLibrary.open(tmp_path / "lib", clock=clock,
                         habit_features=SuggestedBlockFeatures()) as lib:
        for i in range(24):
            child = i % 2 == 0
            found = cands(("#child", 0.8)) + MODEL if child else MODEL
            lib.record_result(result(f"p{i}", found, embedding(BEACH, seed=i)), 1.0, 10, "m")
            lib.record_decisions(f"p{i}", approve=["#sand"],
                                 add=["#familytime"] if child else [])
        with_child = tags(lib.rank(cands(("#child", 0.8)) + MODEL, embedding(BEACH, seed=99)))
        without = tags(lib.rank(MODEL, embedding(BEACH, seed=98)))
    assert "#familytime" in with_child[:5]
    assert "#familytime" not in without[:5]
