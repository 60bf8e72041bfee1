"""The watch service end to end with watchdog's real observer and a fake captioner."""

from __future__ import annotations

import os
import shutil

from desktop_app.watch.queue import WatchQueue
from tests.ui.fakes import make_photos

from .conftest import tiny_jpeg, wait_until


def test_photos_that_appear_are_tagged_once(tmp_path, make_service, library):
    folder = tmp_path / "camera"
    folder.mkdir()
    svc = make_service([folder])
    svc.start()
    photos = make_photos(folder / "2024", n=2)
    (folder / "notes.txt").write_text("not a photo")
    (folder / "x.jpg.part").write_bytes(b"half")
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) == 2)
    assert sorted(svc.recorder.paths("tagged")) == sorted(str(p) for p in photos)
    r = svc.recorder.by_status("tagged")[0]
    assert "#teddybear" in [h.tag for h in r.result.hashtags]
    assert wait_until(lambda: svc.counts() == {"queued": 0, "failed": 0})
    assert library.stats()["photos"] == 2
    photos[0].touch()  # "changed" without new content: not captioned again
    assert wait_until(lambda: svc.recorder.paths("known") == [str(photos[0])])
    assert len(svc.recorder.paths("tagged")) == 2


def test_a_moved_photo_keeps_its_tags(tmp_path, make_service, library, pipeline, captioner):
    folder = tmp_path / "camera"
    [photo] = make_photos(folder, n=1)
    svc = make_service([folder])
    svc.start()
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) == 1)
    pipeline.feedback(photo, approve=["#teddybear"], reject=["#bench"])
    calls = captioner.calls
    (folder / "sub").mkdir()
    moved = folder / "sub" / "renamed.jpg"
    os.rename(photo, moved)
    assert wait_until(lambda: svc.recorder.paths("known") == [str(moved)])
    assert svc.recorder.by_status("known")[0].previous_path == str(photo)
    assert captioner.calls == calls  # not captioned again
    rec = library.photo_by_path(moved)
    assert rec is not None and str(moved) in rec.paths
    assert library.decisions_for(rec.content_hash) == {"#teddybear": "approved", "#bench": "rejected"}


def test_a_photo_written_slowly_is_read_only_when_complete(tmp_path, make_service):
    folder = tmp_path / "downloads"
    folder.mkdir()
    data = tiny_jpeg(tmp_path / "src.jpg", 1)
    svc = make_service([folder], quiet_s=0.4)
    svc.start()
    target = folder / "slow.jpg"
    with open(target, "wb") as fh:
        for i in range(0, len(data), 64):
            fh.write(data[i : i + 64])
            fh.flush()
            wait_until(lambda: False, timeout=0.03)  # a slow copy: a chunk every 30 ms
    assert wait_until(lambda: svc.recorder.paths("tagged") == [str(target)])
    assert svc.recorder.by_status("failed") == []


def test_a_truncated_photo_is_retried_then_reported_once(tmp_path, make_service):
    folder = tmp_path / "camera"
    folder.mkdir()
    data = tiny_jpeg(tmp_path / "src.jpg", 2)
    (folder / "broken.jpg").write_bytes(data[: len(data) // 2])
    svc = make_service([folder], trust_old_s=0.0)
    svc.start()
    assert wait_until(lambda: len(svc.recorder.by_status("failed")) == 1)
    assert wait_until(lambda: svc.counts() == {"queued": 0, "failed": 1})
    [failed] = WatchQueue(svc.pipeline.library).failures()
    assert failed.attempts == svc.options.max_attempts
    assert "truncated" in failed.error
    svc.stop()
    again = make_service([folder], trust_old_s=0.0)  # a restart does not try it again ...
    again.start()
    assert wait_until(lambda: not again.scanning and again.counts()["queued"] == 0, 3)
    assert again.recorder.results == []
    (folder / "broken.jpg").write_bytes(data)  # ... until the file changes
    assert wait_until(lambda: again.recorder.paths("tagged") == [str(folder / "broken.jpg")])


def test_a_burst_of_500_photos(tmp_path, make_service, library):
    folder = tmp_path / "burst"
    folder.mkdir()
    svc = make_service([folder], batch_size=16)
    svc.start()
    src = tmp_path / "src"
    src.mkdir()
    for i in range(500):  # write elsewhere, then move in: like a camera import
        tiny_jpeg(src / f"IMG_{i:04d}.jpg", 1000 + i)
    for i in range(500):
        os.rename(src / f"IMG_{i:04d}.jpg", folder / f"IMG_{i:04d}.jpg")
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) == 500, timeout=120)
    assert len(set(svc.recorder.paths("tagged"))) == 500
    assert wait_until(lambda: library.stats()["queued"] == 0)
    assert library.stats()["photos"] == 500


def test_restart_catches_up_and_resumes_the_queue(tmp_path, make_service, library, captioner):
    folder = tmp_path / "camera"
    make_photos(folder, n=2)
    first = make_service([folder])
    first.start()
    assert wait_until(lambda: len(first.recorder.paths("tagged")) == 2)
    first.stop()
    # while the app is closed: new photos arrive, and one is left queued from "last time"
    made = make_photos(folder / "new", n=4)
    copies, new = made[:2], made[2:]
    leftover = folder / "leftover.jpg"
    tiny_jpeg(leftover, 7)
    st = leftover.stat()
    WatchQueue(library).add(str(leftover), st.st_size, st.st_mtime)
    calls = captioner.calls
    second = make_service([folder])
    second.start()
    want = sorted([str(p) for p in new] + [str(leftover)])
    assert wait_until(lambda: sorted(second.recorder.paths("tagged")) == want)
    assert wait_until(lambda: second.counts()["queued"] == 0)
    # photo0/photo1 at their old paths: skipped by path+size+mtime (not even hashed); the
    # copies in new/ have the same content as them: recognised by hash, not captioned again
    assert sorted(second.recorder.paths("known")) == sorted(str(p) for p in copies)
    assert captioner.calls > calls


def test_a_watched_folder_deleted_while_watching(tmp_path, make_service):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    svc = make_service([a, b])
    svc.start()
    make_photos(b, n=1)
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) == 1)
    shutil.rmtree(b)
    assert wait_until(lambda: any("gone" in n for n in svc.recorder.notices))
    tiny_jpeg(a / "still.jpg", 3)  # the other folder is still watched
    assert wait_until(lambda: str(a / "still.jpg") in svc.recorder.paths("tagged"))
    b.mkdir()  # it comes back: picked up again, with what was put there meanwhile
    tiny_jpeg(b / "back.jpg", 4)
    assert wait_until(lambda: str(b / "back.jpg") in svc.recorder.paths("tagged"))
    assert any("back" in n for n in svc.recorder.notices)
    tiny_jpeg(b / "later.jpg", 5)  # and watched live again
    assert wait_until(lambda: str(b / "later.jpg") in svc.recorder.paths("tagged"))
    assert svc.running


def test_auto_approve_and_xmp_sidecar(tmp_path, make_service, library):
    folder = tmp_path / "camera"
    [photo] = make_photos(folder, n=1)
    svc = make_service([folder], auto_approve=0.0, write_xmp=True)
    svc.start()
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) == 1)
    r = svc.recorder.by_status("tagged")[0]
    assert r.approved and r.error is None
    decisions = library.decisions_for(r.result.content_hash)
    assert set(decisions) == set(r.approved) and set(decisions.values()) == {"approved"}
    sidecar = folder / "photo0.jpg.xmp"
    assert r.sidecar == str(sidecar) and "teddybear" in sidecar.read_text()
    assert len(svc.recorder.results) == 1  # the sidecar itself is not a photo to tag


def test_stop_is_prompt_with_a_long_queue(tmp_path, make_service, library):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        tiny_jpeg(folder / f"{i}.jpg", 500 + i)
        os.utime(folder / f"{i}.jpg", (1_600_000_000, 1_600_000_000))
    svc = make_service([folder], batch_size=4)
    svc.start()
    assert wait_until(lambda: len(svc.recorder.paths("tagged")) >= 4)
    svc.stop(5)
    assert not svc.running
    done = len(svc.recorder.paths("tagged"))
    assert done < 60 and library.stats()["queued"] == 60 - done
