"""The one path from photos to ranked hashtags, with a fake captioner (no TensorFlow)."""

import pytest

from desktop_app.errors import HashlensError
from desktop_app.library.store import TagLibrary
from desktop_app.pipeline import Pipeline, TagOptions

from .ui.fakes import FakeCaptioner, make_photos


@pytest.fixture
def pipe(tmp_path):
    lib = TagLibrary.open(tmp_path / "lib")
    p = Pipeline(captioner=FakeCaptioner(), library=lib, options=TagOptions(batch_size=2, top_k=10))
    yield p
    p.close()


def test_results_come_in_order_and_a_broken_photo_does_not_stop_the_run(tmp_path, pipe):
    photos = make_photos(tmp_path / "in", n=3, broken=True)
    progress = []
    results = list(pipe.tag_paths([tmp_path / "in"], on_progress=progress.append))
    assert [r.path for r in results] == [str(p) for p in sorted(photos)]
    bad = [r for r in results if not r.ok]
    assert len(bad) == 1 and "cannot read" in bad[0].error
    good = [r for r in results if r.ok]
    assert all(r.caption.caption.startswith("a teddy bear") for r in good)
    assert all(any(h.tag == "#teddybear" for h in r.hashtags) for r in good)
    assert progress[-1].done == 4 and progress[-1].failed == 1


def test_cancel_stops_between_batches(tmp_path, pipe):
    make_photos(tmp_path / "in", n=6)
    seen = []
    for r in pipe.tag_paths([tmp_path / "in"], should_cancel=lambda: len(seen) >= 2):
        seen.append(r)
    assert len(seen) == 2  # batch size 2: the second batch never starts


def test_feedback_changes_the_next_ranking_and_survives_a_rename(tmp_path, pipe):
    photo = make_photos(tmp_path / "in", n=1)[0]
    first = pipe.tag_photo(photo)
    tags = [h.tag for h in first.hashtags]
    loser = tags[0]
    state = pipe.feedback(photo, reject=[loser], add=["Dogs of Instagram"])
    assert state[loser] == "rejected" and state["#dogsofinstagram"] == "added"
    moved = photo.rename(tmp_path / "in" / "renamed.jpg")
    again = pipe.tag_photo(moved)
    new_tags = [h.tag for h in again.hashtags]
    assert loser not in new_tags[:1]
    assert pipe.library.decisions_for(again.content_hash)[loser] == "rejected"


def test_feedback_refuses_invalid_tags(tmp_path, pipe):
    photo = make_photos(tmp_path / "in", n=1)[0]
    with pytest.raises(HashlensError, match="not a valid hashtag"):
        pipe.feedback(photo, add=["!!!"])


def test_a_broken_library_does_not_stop_tagging(tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "library.sqlite3").write_bytes(b"this is not a database" * 100)
    p = Pipeline(captioner=FakeCaptioner(), library_dir=folder)
    res = p.tag_photo(make_photos(tmp_path / "in", n=1)[0])
    assert res.ok and res.hashtags
    assert p.library_warning and "library" in p.library_warning.lower()
    assert (folder / "library.sqlite3").read_bytes() == b"this is not a database" * 100


def test_ranked_hashtags_keep_their_popularity_figure(tmp_path, pipe):
    res = pipe.tag_photo(make_photos(tmp_path / "in", n=1)[0])
    bear = next(h for h in res.hashtags if h.tag == "#teddybear")
    assert "popularity" in bear.parts and "model" in bear.parts


def test_warm_up_loads_the_model_and_leaves_nothing_behind(tmp_path):
    from desktop_app.tagging.postag import load_tagger

    load_tagger.cache_clear()
    pipe = Pipeline(captioner=FakeCaptioner(), library_dir=tmp_path)
    pipe.warm_up()
    assert load_tagger.cache_info().currsize == 1  # the first photo will not pay for it
    assert not (tmp_path / "library.sqlite3").exists()  # nothing recorded, no library opened


def test_warm_up_reports_a_broken_model(tmp_path):
    from desktop_app.errors import ModelBundleError

    (tmp_path / "model").mkdir()
    with pytest.raises(ModelBundleError, match="incomplete"):
        Pipeline(model=tmp_path / "model", use_library=False).warm_up()


def test_a_rule_applies_at_once_to_a_photo_tagged_before_it(tmp_path, pipe):
    first, second = (pipe.tag_photo(p) for p in make_photos(tmp_path / "in", n=2))
    lib = pipe.library
    before = lib.generation()
    shown = [h.tag for h in second.hashtags]
    lib.block(shown[0])
    lib.add_synonym(shown[1], "#mysynonym")
    lib.add_always("#nofilter")
    assert lib.generation() != before  # the window's cue that ranked photos are stale
    again = [h.tag for h in pipe.suggest(second)]
    assert again[0] == "#nofilter" and shown[0] not in again and shown[1] not in again
    assert "#mysynonym" in again
    assert not lib.decisions_for(second.content_hash)  # nothing was decided on it meanwhile


def test_one_decision_does_not_spill_over_to_an_unrelated_photo(tmp_path, pipe):
    a, b = make_photos(tmp_path / "in", n=2)
    first, second = pipe.tag_photo(a), pipe.tag_photo(b)
    pipe.decide(first.content_hash, str(a), add=["#puppylove"])
    assert "#puppylove" not in [h.tag for h in pipe.suggest(second)][:5]
    assert "#puppylove" in [h.tag for h in pipe.suggest(first)][:1]  # its own: pinned first


def test_another_process_deciding_makes_ranked_photos_stale(tmp_path, pipe):
    res = pipe.tag_photo(make_photos(tmp_path / "in", n=1)[0])
    lib = pipe.library
    before = lib.generation()
    with TagLibrary.open(lib.path.parent) as other:  # e.g. `hashlens feedback` meanwhile
        other.record_decisions(res.content_hash, reject=[res.hashtags[0].tag])
    assert lib.generation() != before
    assert [h.tag for h in pipe.suggest(res)][-1] == res.hashtags[0].tag  # rejected: last


def test_detectors_off_or_broken_still_tag_every_photo(tmp_path, monkeypatch):
    """Without detectors (turned off, or their model files missing) photos are tagged from the
    caption and the classifier alone; the warning says why."""
    photos = make_photos(tmp_path, n=2)
    off = Pipeline(captioner=FakeCaptioner(), use_library=False, detectors=False)
    assert [r.ok for r in off.tag_paths(photos)] == [True, True]
    assert off.detector_warning is None

    import desktop_app.detection as detection
    from desktop_app.errors import ModelFileError

    def missing():
        raise ModelFileError("model file detectors/objects.tflite is missing; reinstall hashlens")

    monkeypatch.setattr(detection, "load_object_detector", missing)
    broken = Pipeline(captioner=FakeCaptioner(), use_library=False)
    results = list(broken.tag_paths(photos))
    assert [r.ok for r in results] == [True, True] and all(r.hashtags for r in results)
    assert "objects.tflite" in broken.detector_warning


def test_a_real_photo_gets_its_detections_and_a_caption_that_names_them(tmp_path):
    """The shipped cat photo through the whole path: a cat box, #cat among the first tags,
    pointing at that box, and a caption that does not name an animal that is not there."""
    from desktop_app.paths import resources_dir

    pipe = Pipeline(use_library=False)
    res = pipe.tag_photo(resources_dir() / "samples" / "chelsea.jpg")
    cats = [i for i, d in enumerate(res.detections) if d.label == "cat"]
    assert cats, res.detections
    top = [h.tag for h in res.hashtags[:3]]
    assert "#cat" in top
    cat_tag = next(h for h in res.hashtags if h.tag == "#cat")
    assert set(cat_tag.box_indices) == set(cats)
    assert "dog" not in res.caption.tokens
    data = res.to_json(attention=True)
    assert len(data["attention"]["words"]) == len(res.caption.tokens)
    assert data["detections"][cats[0]]["label"] == "cat"
