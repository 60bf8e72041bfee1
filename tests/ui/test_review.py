"""The review controller on its own: no Qt, no window (desktop_app/session/review.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.pipeline import Pipeline
from desktop_app.session.photo import Status, plural
from desktop_app.session.review import QuietListener, Review, first_alone
from desktop_app.session.store import SessionError, SessionStore
from desktop_app.session.tasks import SyncRunner

from .fakes import Deferred, FakeCaptioner, make_photos


class Recorder(QuietListener):
    """Remembers what the controller said and runs tagging jobs at once, like the window."""

    def __init__(self):
        self.review: Review | None = None
        self.said: list[tuple[str, str]] = []
        self.changed: list[str] = []
        self.progress_views = []
        self.jobs: list[list[Path]] = []
        self.run_jobs = True

    def say(self, text, kind="status"):
        self.said.append((kind, text))

    def photo_changed(self, photo):
        self.changed.append(photo.name)

    def progress(self, view):
        self.progress_views.append(view)

    def tag(self, files):
        self.jobs.append(list(files))
        if not self.run_jobs:
            return
        r = self.review
        r.tagging(files)
        for res in r.pipeline.tag_paths(files):
            r.result(res)
        r.job_finished(False)


def make_review(library, tmp_path, store=None, runner=None) -> tuple[Review, Recorder]:
    rec = Recorder()
    review = Review(Pipeline(captioner=FakeCaptioner(), library=library), runner or SyncRunner(), store, rec)
    rec.review = review
    review.open_library()
    return review, rec


def tagged(review, folder, n=2):
    photos = make_photos(folder, n)
    review.added(photos)
    return photos


def test_the_controller_imports_no_qt():
    code = ("import sys, desktop_app.session.review, desktop_app.session.store; "
            "sys.exit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0


def test_plural_words_never_say_photo_s():
    assert plural(1, "photo") == "1 photo" and plural(12, "photo") == "12 photos"


def test_first_photo_is_asked_for_alone():
    assert first_alone(5, 2) == [(0, 1), (1, 3), (3, 5)]
    assert first_alone(1, 16) == [(0, 1)] and first_alone(0, 16) == []


def test_adding_tags_the_new_photos_once_and_says_how_many(library, tmp_path):
    review, rec = make_review(library, tmp_path)
    photos = tagged(review, tmp_path / "p", 3)
    assert [p.status for p in review.photos] == [Status.READY] * 3
    assert rec.jobs == [[p.absolute() for p in photos]]
    assert ("status", "Added 3 photos.") in rec.said and ("status", "Done; 3 photos tagged.") in rec.said
    assert review.add(photos) == []  # already there
    review.added(photos)
    assert rec.said[-1] == ("status", "Those photos are already in the batch.")
    assert rec.progress_views[-1].visible is False  # the bar goes when the batch is done


def test_decisions_show_at_once_and_reach_the_library_in_order(library, tmp_path):
    runner = Deferred()
    review, rec = make_review(library, tmp_path, runner=runner)
    runner.run_all()
    review.added(make_photos(tmp_path / "p", 1))
    runner.run_all()
    photo = review.select(0)
    review.decide("#teddybear", "approve")
    review.decide("#bench", "reject")
    review.decide("#teddybear", "remove")
    # shown before the library has answered; one decision in flight at a time
    assert photo.decisions == {"#teddybear": "removed", "#bench": "rejected"}
    assert photo.pending == 3 and len(runner.tasks) == 1
    assert library.decisions_for(photo.digest) == {}
    runner.run_all()
    assert library.decisions_for(photo.digest) == {"#teddybear": "removed", "#bench": "rejected"}
    assert photo.pending == 0 and photo.status == Status.READY and review.learned == 3


def test_a_decision_reranks_the_untouched_photos_when_shown(library, tmp_path, monkeypatch):
    review, _ = make_review(library, tmp_path)
    tagged(review, tmp_path / "p", 3)
    first, second, third = review.photos
    asked, answers = [], []
    real = review.pipeline.suggest

    def suggest(res, chosen=()):  # the library's answer, reversed: a visible new order
        asked.append(res.path)
        answers.append([h.tag for h in reversed(real(res, chosen))])
        return list(reversed(real(res, chosen)))

    monkeypatch.setattr(review.pipeline, "suggest", suggest)
    review.select(0)
    assert asked == []  # nothing learned since it was ranked
    before = [h.tag for h in second.result.hashtags]
    review.decide(before[0], "reject", first)
    review.select(1)  # ranked before the decision: ranked again when shown
    assert asked == [str(second.path)] and [h.tag for h in second.result.hashtags] == answers[0]
    assert answers[0] != before
    review.select(1)
    review.select(0)  # once per decision; a decided photo keeps its order
    assert asked == [str(second.path)]
    review.set_order([h.tag for h in third.result.hashtags][::-1], third)
    review.select(2)  # reordered by the user: theirs
    assert asked == [str(second.path)]


def test_rule_changes_rerank_the_photos_not_decided_on(library, tmp_path):
    review, rec = make_review(library, tmp_path)
    tagged(review, tmp_path / "p", 2)
    review.select(0)
    library.block("#teddybear")
    review.rules_changed()  # the photo shown is ranked again at once, the others when shown
    assert "#teddybear" not in [h.tag for h in review.photo(0).result.hashtags]
    assert "ranked again" in rec.said[-1][1]
    assert "#teddybear" in [h.tag for h in review.photo(1).result.hashtags]
    review.select(1)
    assert "#teddybear" not in [h.tag for h in review.photo(1).result.hashtags]


def test_typed_tags_are_normalised_and_invalid_ones_refused(library, tmp_path):
    review, rec = make_review(library, tmp_path)
    tagged(review, tmp_path / "p", 1)
    photo = review.select(0)
    assert review.add_tag("Dogs of Instagram!") == "#dogsofinstagram"
    assert photo.decisions["#dogsofinstagram"] == "added" and photo.order[-1] == "#dogsofinstagram"
    assert review.add_tag("!!!") is None and "not a valid hashtag" in rec.said[-1][1]


def test_the_post_has_a_caption_only_once_approved_or_written(library, tmp_path):
    review, _ = make_review(library, tmp_path)
    tagged(review, tmp_path / "p", 1)
    photo = review.select(0)
    review.decide("#teddybear", "approve")
    post = review.post()
    assert post.text == "#teddybear" and post.counter() == "1 / 30 hashtags"
    assert review.export_rows()[0].caption is None
    review.approve_caption(True)
    assert review.post().text == "A teddy bear sitting on a wooden bench.\n\n#teddybear"
    review.approve_caption(False)
    review.edit_caption("my bear  in the snow")
    assert photo.caption == "my bear in the snow" and photo.edited and photo.caption_approved
    assert review.post().text.startswith("My bear in the snow.\n\n")
    assert "#snow" in [h.tag for h in photo.result.hashtags]
    assert review.export_rows()[0].caption == "my bear in the snow"


def test_over_thirty_approved_tags_the_post_keeps_the_first_thirty(library, tmp_path):
    review, _ = make_review(library, tmp_path)
    tagged(review, tmp_path / "p", 1)
    photo = review.select(0)
    for i in range(34):
        review.add_tag(f"tag{i:02d}")
    post = review.post()
    assert len(post.tags) == 30 and post.tags[0] == "#tag00" and post.over == 4
    assert post.left_out == ("#tag30", "#tag31", "#tag32", "#tag33")
    assert post.counter() == "34 approved: the first 30 go in the post"
    assert photo.status == Status.APPROVED


def test_twelve_half_reviewed_photos_come_back_after_a_restart(library, tmp_path):
    store = SessionStore.in_folder(tmp_path / "home")
    review, _ = make_review(library, tmp_path, store)
    photos = tagged(review, tmp_path / "p", 12)
    for row in range(0, 12, 2):  # every other photo reviewed
        photo = review.select(row)
        tags = review.chip_order(photo)
        review.decide(tags[0], "approve")
        review.decide(tags[1], "reject")
        review.set_order([tags[2], tags[0]] + tags[3:] + [tags[1]])
    review.select(4)
    review.edit_caption("my own words about a bear")
    review.select(5)
    review.approve_caption(True)
    review.select(7)
    before = {p.path: (p.status, dict(p.decisions), list(p.order), p.caption, p.edited,
                       p.caption_approved, [h.tag for h in p.result.hashtags]) for p in review.photos}
    review.close()

    again, rec = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    again.restore()
    assert [p.path for p in again.photos] == [p.absolute() for p in photos]
    after = {p.path: (p.status, dict(p.decisions), list(p.order), p.caption, p.edited,
                      p.caption_approved, [h.tag for h in p.result.hashtags]) for p in again.photos}
    assert after == before
    assert again.current is again.photo(7)
    assert ("status", "Restored 12 photos from your last session.") in rec.said
    assert rec.jobs == []  # nothing captioned again
    assert again.photo(4).result.caption.tokens[:2] == ("my", "own")


def test_a_photo_gone_since_is_restored_as_an_error_and_queued_ones_are_tagged(library, tmp_path):
    store = SessionStore.in_folder(tmp_path / "home")
    review, rec = make_review(library, tmp_path, store)
    rec.run_jobs = False  # quit while tagging
    photos = tagged(review, tmp_path / "p", 3)
    review.tagging(photos[:1])
    review.close()
    photos[2].unlink()
    again, rec2 = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    again.restore()
    assert again.photo(2).status == Status.ERROR and "no longer there" in again.photo(2).error
    assert rec2.jobs == [[photos[0].absolute(), photos[1].absolute()]]
    assert [p.status for p in again.photos[:2]] == [Status.READY, Status.READY]


def test_removed_and_cleared_photos_stay_gone(library, tmp_path):
    review, _ = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    tagged(review, tmp_path / "p", 3)
    review.remove([0])
    review.close()
    again, _ = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    again.restore()
    assert [p.name for p in again.photos] == ["photo1.jpg", "photo2.jpg"]
    again.clear()
    again.close()
    third, _ = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    third.restore()
    assert third.photos == []


def test_recent_folders_newest_first_and_only_existing(library, tmp_path):
    review, _ = make_review(library, tmp_path, SessionStore.in_folder(tmp_path / "home"))
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    review.note_opened([a])
    review.note_opened([b / "x.jpg"])
    assert review.recent_folders() == [str(b), str(a)]
    b.rmdir()
    assert review.recent_folders() == [str(a)]


def test_an_unwritable_session_is_said_once_and_the_review_goes_on(library, tmp_path):
    store = SessionStore.in_folder(tmp_path / "home")
    review, rec = make_review(library, tmp_path, store)
    store.close()  # every write fails from now on
    with pytest.raises(SessionError):
        store.recent()
    tagged(review, tmp_path / "p", 2)
    review.flush()
    review.select(0)
    review.decide("#teddybear", "approve")
    review.flush()
    warnings = [t for k, t in rec.said if k == "warning"]
    assert len(warnings) == 1 and "not saved for next time" in warnings[0]
    assert review.photo(0).decisions == {"#teddybear": "approved"}
