"""The main window, driven offscreen with a synchronous runner and a fake captioner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication

from desktop_app.errors import ModelBundleError
from desktop_app.pipeline import Pipeline
from desktop_app.session.photo import Status
from desktop_app.ui.window import PAGE_EMPTY, PAGE_LIBRARY, PAGE_PHOTOS

from .fakes import Deferred, FakeCaptioner, make_photos


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def window_thumbs(win):
    return win.model.thumbs


def ready_window(window, photos):
    drop(window, [photos[0].parent])
    window.grid.select_row(window.model.row_of(photos[0]))
    return window.current_item()


def test_empty_state_then_drop_a_folder_produces_results(window, photos):
    assert window.pages.currentIndex() == PAGE_EMPTY
    drop(window, [photos[0].parent])
    assert window.pages.currentIndex() == PAGE_PHOTOS
    items = {it.path.name: it for it in window.model.items}
    assert set(items) == {"photo0.jpg", "photo1.jpg", "broken.jpg"}
    for name in ("photo0.jpg", "photo1.jpg"):
        it = items[name]
        assert it.status == Status.READY
        assert it.caption == "a teddy bear sitting on a wooden bench"
        assert "#teddybear" in [h.tag for h in it.result.hashtags]
        assert not window.model.thumbs[it.path].isNull()
    assert items["broken.jpg"].status == Status.ERROR
    assert "truncated" in items["broken.jpg"].error
    assert items["broken.jpg"].path in window.model.no_thumb
    assert not window.progress_bar.isVisible()  # the batch is over


def test_dropping_the_same_photos_again_adds_nothing(window, photos):
    drop(window, photos)
    drop(window, photos[:1])
    assert len(window.model.items) == 3


def test_dropped_single_file_and_detail_shows_caption(window, photos):
    drop(window, [photos[1]])
    assert [it.path.name for it in window.model.items] == ["photo1.jpg"]
    assert window.detail.item is window.model.items[0]
    assert "teddy" in window.detail.caption.text()
    assert window.detail.chips.tags()[0] == "#teddybear"
    assert window.detail.canvas.photo is not None


def test_approve_and_reject_reach_the_library(window, photos, library):
    it = ready_window(window, photos)
    window.decide("#teddybear", "approve")
    window.decide("#bench", "reject")
    digest = it.result.content_hash
    assert library.decisions_for(digest) == {"#teddybear": "approved", "#bench": "rejected"}
    assert it.status == Status.APPROVED
    assert window.detail.chips.state_of("#teddybear") == "approved"
    window.decide("#teddybear", "remove")
    assert library.decisions_for(digest)["#teddybear"] == "removed"
    assert it.status == Status.READY


def test_a_decision_reaches_the_next_photo_of_the_batch_when_shown(window, photos, library, monkeypatch):
    first = ready_window(window, photos)
    second_row = window.model.row_of(photos[1])
    real = window.pipeline.suggest
    monkeypatch.setattr(window.pipeline, "suggest", lambda res, chosen=(): list(reversed(real(res, chosen))))
    before = window.review.photos[second_row].result.hashtags  # ranked already
    window.decide("#teddybear", "reject")
    window.grid.select_row(second_row)  # the photo was ranked before the decision: again now
    assert window.detail.chips.tags() == [h.tag for h in reversed(real(window.review.photos[second_row].result))]
    assert [h.tag for h in before] != window.detail.chips.tags()
    window.grid.select_row(window.model.row_of(first.path))  # the decided photo keeps its order
    assert window.detail.chips.state_of("#teddybear") == "rejected"


def test_keyboard_a_and_r_act_on_the_focused_tag(window, qtbot, photos, library):
    it = ready_window(window, photos)
    chips = window.detail.chips
    chips.set_current(chips.index_of("#woodenbench"))
    window.activateWindow()
    chips.setFocus()
    qtbot.keyClick(chips, Qt.Key.Key_A)
    assert library.decisions_for(it.result.content_hash).get("#woodenbench") == "approved"
    # focus moved on to the next undecided tag
    assert chips.focused_tag() == "#bench"
    qtbot.keyClick(chips, Qt.Key.Key_R)
    assert library.decisions_for(it.result.content_hash).get("#bench") == "rejected"


def test_arrow_keys_move_between_photos(window, qtbot, photos):
    drop(window, [photos[0].parent])
    window.grid.select_row(0)
    window.grid.setFocus()
    first = window.current_item()
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.current_item() is not first
    assert window.detail.item is window.current_item()


def test_copy_for_instagram_text(window, photos, qtbot):
    it = ready_window(window, photos)
    window.decide("#woodenbench", "approve")
    window.decide("#teddybear", "approve")
    window.add_tag("Dogs of Instagram!")
    window.decide("#bench", "reject")
    QGuiApplication.clipboard().clear()
    window.copy_for_instagram()
    # the chip order (ranking), then the hand-added tag; rejected tags never
    assert QGuiApplication.clipboard().text() == "#teddybear #woodenbench #dogsofinstagram"
    # the model's caption goes in the post only once the user approves it
    window.review.approve_caption(True)
    assert window.instagram_text(it) == (
        "A teddy bear sitting on a wooden bench.\n\n#teddybear #woodenbench #dogsofinstagram")


def test_ctrl_c_copies_and_reorder_changes_the_order(window, photos, qtbot):
    ready_window(window, photos)
    window.decide("#teddybear", "approve")
    window.decide("#bench", "approve")
    chips = window.detail.chips
    chips.set_current(chips.index_of("#bench"))
    chips.setFocus()
    qtbot.keyClick(chips, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(chips, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert chips.tags()[0] == "#bench"
    window.grid.setFocus()
    QGuiApplication.clipboard().clear()
    qtbot.keyClick(window.grid, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "#bench #teddybear"


def test_at_most_30_hashtags_are_copied(window, photos):
    it = ready_window(window, photos)
    window.pipeline.library.record_decisions(it.result.content_hash, add=[f"#tag{i:02d}" for i in range(35)])
    it.decisions = window.pipeline.library.decisions_for(it.result.content_hash)
    text = window.instagram_text(it)
    assert len(text.split()) == 30
    assert text.startswith("#tag00 ")


def test_delete_removes_from_batch_not_disk(window, qtbot, photos):
    drop(window, [photos[0].parent])
    window.grid.select_row(window.model.row_of(photos[0]))
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Delete)
    assert window.model.row_of(photos[0]) == -1
    assert len(window.model.items) == 2
    assert photos[0].exists()


def test_clicking_a_word_overlays_its_attention(window, photos, qtbot):
    it = ready_window(window, photos)
    canvas = window.detail.canvas
    plain = canvas.grab().toImage()
    window.detail.caption.linkActivated.emit("#w2")  # "bear"
    assert window.detail.current_word == 2
    np.testing.assert_allclose(canvas.weights, it.result.caption.attention_map(2))
    shaded = canvas.grab().toImage()
    assert shaded != plain
    assert "background" in window.detail.caption.text()  # the word is highlighted
    window.detail.show_tag("#teddybear")  # a hashtag: the mean of its words' maps
    expected = it.result.caption.attention[[1, 2]].mean(axis=0).reshape(7, 7)
    np.testing.assert_allclose(canvas.weights, expected, rtol=1e-5)


def test_play_walks_through_the_caption(window, photos, qtbot):
    it = ready_window(window, photos)
    d = window.detail
    d.timer.setInterval(5)
    d.play.setChecked(True)
    assert d.current_word == 0
    qtbot.waitUntil(lambda: not d.play.isChecked(), timeout=3000)
    assert d.current_word == len(it.result.caption.tokens) - 1


def test_editing_the_caption_resuggests(window, photos):
    it = ready_window(window, photos)
    window.edit_caption("a brown teddy bear in the snow")
    assert it.caption == "a brown teddy bear in the snow"
    tags = [h.tag for h in it.result.hashtags]
    assert "#snow" in tags and "#woodenbench" not in tags
    window.decide("#snow", "approve")
    window.settings.with_caption = True
    assert window.instagram_text(it).startswith("A brown teddy bear in the snow.\n\n#snow")
    # unchanged words keep their attention rows; new words have none (muted)
    assert 0 in window.detail._muted() or 1 in window.detail._muted()


def test_export_txt_csv_and_xmp(window, photos, tmp_path):
    ready_window(window, photos)
    window.decide("#teddybear", "approve")
    out = tmp_path / "tags.csv"
    window.export_to(str(out), "csv")
    assert "#teddybear" in out.read_text()
    window.export_to(str(tmp_path / "tags.txt"), "txt")
    assert (tmp_path / "tags.txt").read_text() == "#teddybear\n"
    (sidecar,), problems = window.export_to("", "xmp")
    assert sidecar == photos[0].with_name("photo0.jpg.xmp") and problems == []
    assert "<rdf:li>teddybear</rdf:li>" in sidecar.read_text()


def test_export_dialog_writes_through_the_runner_and_says_where(window, photos, tmp_path, monkeypatch):
    from desktop_app.ui import window as window_module

    ready_window(window, photos)
    window.decide("#teddybear", "approve")
    out = tmp_path / "picked.csv"
    monkeypatch.setattr(window_module.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(out), "CSV spreadsheet (*.csv)"))
    window.export_dialog()
    assert "#teddybear" in out.read_text()
    assert window.status_line.full == f"Exported to {out}"


def test_xmp_export_goes_on_past_a_read_only_sidecar_and_names_it(window, photos):
    ready_window(window, photos)
    for photo in photos[:2]:
        window.grid.select_row(window.model.row_of(photo))
        window.decide("#teddybear", "approve")
    locked = photos[0].with_name("photo0.jpg.xmp")
    from desktop_app.export.xmp import xmp_packet

    locked.write_text(xmp_packet(["holiday"]))
    locked.chmod(0o444)
    before = locked.read_bytes()
    written, problems = window.export_to("", "xmp")
    assert written == [photos[1].with_name("photo1.jpg.xmp")]
    assert len(problems) == 1 and problems[0].startswith("photo0.jpg:") and "read-only" in problems[0]
    assert locked.read_bytes() == before and (locked.stat().st_mode & 0o777) == 0o444


def test_library_view_shows_preferences_and_edits_rules(window, photos, library):
    ready_window(window, photos)
    window.decide("#teddybear", "approve")
    window.show_page("library")
    assert window.pages.currentIndex() == PAGE_LIBRARY
    view = window.library_view
    assert view.prefs.item(0, 0).text() == "#teddybear"
    assert view.prefs.item(0, 2).data(Qt.ItemDataRole.DisplayRole) == 1
    view.blocked.entry.setText("Bench")
    view.blocked.add.click()
    view.always.entry.setText("#nofilter")
    view.always.add.click()
    view.alias.setText("#teddy")
    view.canonical.setText("#teddybear")
    view.canonical.returnPressed.emit()
    rules = library.rules()
    assert rules["blocked"] == ["#bench"]
    assert rules["always"] == ["#nofilter"]
    assert rules["synonyms"] == {"#teddy": "#teddybear"}
    assert view.blocked.list.count() == 1 and view.synonyms.rowCount() == 1
    view.always.list.item(0).setSelected(True)
    view.always.remove.click()
    assert library.rules()["always"] == []
    view.blocked.entry.setText("!!!")
    view.blocked.add.click()
    assert view.error.isVisibleTo(view) and "not a valid hashtag" in view.error.text()


def test_library_page_neither_opens_nor_reads_the_library_on_the_gui_thread(qtbot, settings_store, tmp_path):
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow

    pipe = Pipeline(captioner=FakeCaptioner(), library_dir=tmp_path / "lib")
    runner = Deferred()
    win = MainWindow(pipe, runner, settings_store, ThumbnailCache(tmp_path / "t"))
    qtbot.addWidget(win)
    win.review.open_library()  # (start's library task, not run yet)
    win.show_page("library")
    assert pipe._library is None  # not opened here, on the GUI thread
    view = win.library_view
    assert "not open" in view.stats.text()
    pipe.library.block("#bench")  # (opened, as the worker will)
    runner.run_waiting()  # the library opens; the page asks for its contents in a worker
    assert view.blocked.list.count() == 0  # nothing read on the GUI thread
    runner.run_waiting()
    assert [view.blocked.list.item(i).text() for i in range(view.blocked.list.count())] == ["#bench"]
    assert "0</b> photos" in view.stats.text()
    pipe.close()


def test_model_missing_is_shown_not_crashed(qtbot, library, settings_store, tmp_path):
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    class NoModel(Pipeline):
        @property
        def captioner(self):
            raise ModelBundleError("no model bundle at model_assets/captioner")

    win = MainWindow(NoModel(library=library), SyncRunner(), settings_store, ThumbnailCache(tmp_path / "t"))
    qtbot.addWidget(win)
    win.start()
    assert win.model_state == "failed"
    assert win.banner.isVisibleTo(win) and "could not be loaded" in win.banner.label.text()
    assert win.device_label.text() == "Captioner: missing"
    photos = make_photos(tmp_path / "p", 1)
    drop(win, photos)
    (it,) = win.model.items
    assert it.status == Status.ERROR and "no model bundle" in it.error
    win.show()  # thumbnails are made as their cells are drawn
    qtbot.waitUntil(lambda: it.path in window_thumbs(win), timeout=5000)  # still gets one


def test_unavailable_library_is_shown_and_decisions_refused(qtbot, settings_store, tmp_path):
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    pipe = Pipeline(captioner=FakeCaptioner(), library_dir=blocker / "lib")
    win = MainWindow(pipe, SyncRunner(), settings_store, ThumbnailCache(tmp_path / "t"))
    qtbot.addWidget(win)
    win.start()
    assert win.banner.isVisibleTo(win) and "unavailable" in win.banner.label.text()
    photos = make_photos(tmp_path / "p", 1)
    drop(win, photos)
    win.grid.select_row(0)
    it = win.current_item()
    assert it.status == Status.READY  # tagged without personalisation
    win.decide(it.result.hashtags[0].tag, "approve")
    assert "not saved" in win.banner.label.text()


def test_settings_persist_and_apply(window, settings_store):
    from desktop_app.ui.settings import AppSettings

    s = AppSettings(style="underscored", top_k=12, beam=5, watched_folders=["/tmp/x"], with_caption=True)
    window.apply_settings(s)
    assert window.pipeline.options.style == "underscored" and window.pipeline.options.top_k == 12
    again = settings_store.load()
    assert again == s.validated()


def test_window_module_does_not_import_tensorflow():
    code = ("import sys; import desktop_app.ui.app, desktop_app.ui.window; "
            "sys.exit(1 if 'tensorflow' in sys.modules else 0)")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0



def test_dragging_a_chip_reorders(window, photos, qtbot):
    it = ready_window(window, photos)
    chips = window.detail.chips
    before = chips.tags()
    last, first = chips.chip_rect(len(before) - 1), chips.chip_rect(0)
    with qtbot.waitSignal(chips.orderChanged, timeout=2000) as sig:
        qtbot.mousePress(chips, Qt.MouseButton.LeftButton, pos=last.center())
        qtbot.mouseMove(chips, last.center() + QPoint(-30, 0))
        qtbot.mouseMove(chips, first.topLeft() + QPoint(3, first.height() // 2))
        qtbot.mouseRelease(chips, Qt.MouseButton.LeftButton, pos=first.topLeft() + QPoint(3, first.height() // 2))
    assert chips.tags() == [before[-1]] + before[:-1]
    assert sig.args[0] == chips.tags() and it.order == chips.tags()


def test_add_tag_entry_completes_from_the_library(window, photos):
    ready_window(window, photos)
    window.decide("#teddybear", "approve")
    entry = window.detail.entry
    entry.textEdited.emit("#ted")
    assert "#teddybear" in entry.completer().model().stringList()
    entry.textEdited.emit("ted")
    assert "teddybear" in entry.completer().model().stringList()
    entry.setText("#My Own Tag")
    entry.returnPressed.emit()
    assert window.current_item().decisions.get("#myowntag") == "added"
    assert "#myowntag" in window.detail.chips.tags() and entry.text() == ""


def test_settings_dialog_round_trips(qtbot):
    from desktop_app.ui.settings import AppSettings, SettingsDialog

    s = AppSettings(style="underscored", top_k=9, beam=2, watched_folders=["/x"], library_dir="/lib",
                    with_caption=True, theme="dark")
    dlg = SettingsDialog(s)
    qtbot.addWidget(dlg)
    assert dlg.value() == s


def test_a_library_sqlite_calls_damaged_is_reported_when_the_window_opens(window, library, monkeypatch):
    from desktop_app.library.integrity import Diagnosis

    damaged = Diagnosis(library.path, False, "quick_check", ("Rowid 83 out of order",))
    monkeypatch.setattr(library, "verify", lambda: damaged)
    window.review._library_opened(library)
    text = window.banner.label.text()
    assert "damaged" in text and "Rowid 83 out of order" in text and "hashlens library repair" in text


def test_an_intact_library_shows_no_banner(window, library):
    window.review._library_opened(library)
    assert not window.banner.isVisible()


def test_quit_with_twelve_photos_half_reviewed_and_all_come_back(qtbot, settings_store, tmp_path):
    from desktop_app.session.store import SessionStore
    from desktop_app.ui.thumbnails import ThumbnailCache
    from desktop_app.ui.window import MainWindow
    from desktop_app.ui.workers import SyncRunner

    def open_window():
        pipe = Pipeline(captioner=FakeCaptioner(), library_dir=tmp_path / "home")
        win = MainWindow(pipe, SyncRunner(), settings_store,
                         ThumbnailCache(tmp_path / "thumbs"), SessionStore.in_folder(tmp_path / "home"))
        qtbot.addWidget(win)
        win.show()
        win.start()
        return win

    photos = make_photos(tmp_path / "p", 12)
    win = open_window()
    drop(win, [tmp_path / "p"])
    for row in range(6):  # half reviewed: two decisions and a new chip order each
        win.grid.select_row(row)
        tags = win.detail.chips.tags()
        win.decide(tags[0], "approve")
        win.decide(tags[1], "reject")
        win.review.set_order([tags[2], tags[0]] + tags[3:] + [tags[1]])
    win.grid.select_row(2)
    win.edit_caption("a bear I know")
    win.grid.select_row(9)
    shown = {p.path: (p.status, p.decisions, p.order, p.caption) for p in win.review.photos}
    order = [p.path for p in win.review.photos]
    assert sorted(order) == sorted(p.absolute() for p in photos)
    win.close()

    again = open_window()
    assert [p.path for p in again.review.photos] == order
    assert {p.path: (p.status, p.decisions, p.order, p.caption) for p in again.review.photos} == shown
    assert again.pages.currentIndex() == PAGE_PHOTOS and again.grid.current_row() == 9
    assert again.detail.item is again.review.photos[9]
    again.grid.select_row(3)
    assert again.detail.chips.tags() == shown[order[3]][2]  # the user's chip order
    again.grid.select_row(2)
    assert again.instagram_text().startswith("A bear I know.\n\n")  # written, so in the post
    assert "Restored 12 photos" in again.status_line.full


def test_keyboard_first_review_arrows_space_enter(window, qtbot, photos, library):
    it = ready_window(window, photos)
    chips = window.detail.chips
    window.activateWindow()
    chips.setFocus()
    chips.set_current(0)
    qtbot.keyClick(chips, Qt.Key.Key_Right)
    assert chips.current == 1
    qtbot.keyClick(chips, Qt.Key.Key_Left)
    qtbot.keyClick(chips, Qt.Key.Key_Space)  # toggles approval of the focused chip
    first = chips.tags()[0]
    assert it.decisions[first] == "approved"
    assert window.detail.composer.preview_text().endswith(first)  # the post shows it at once
    qtbot.keyClick(chips, Qt.Key.Key_Delete)  # undoes a decision, never removes the photo
    assert window.review.row_of(it.path) >= 0
    row = window.review.row_of(it.path)
    qtbot.keyClick(chips, Qt.Key.Key_Return)  # Enter: the next photo
    assert window.grid.current_row() == row + 1
    qtbot.keyClick(window.grid, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert window.grid.current_row() == row


def test_the_post_panel_shows_the_post_as_pasted(window, photos):
    it = ready_window(window, photos)
    composer = window.detail.composer
    assert "Approve hashtags" in composer.preview.text()
    window.decide("#teddybear", "approve")
    assert composer.preview_text() == "#teddybear" and composer.counter.text() == "1 / 30 hashtags"
    assert not composer.with_caption.isChecked()
    composer.with_caption.setChecked(True)  # the user approves the model's caption
    assert it.caption_approved
    assert composer.preview_text() == "A teddy bear sitting on a wooden bench.\n\n#teddybear"
    assert window.instagram_text() == composer.preview_text()


def test_chips_flow_in_rows_that_are_never_cut(window, photos, qtbot):
    from desktop_app.ui.chips import flow_positions

    assert flow_positions([50, 50, 50], 110, gap=4) == ([(0, 0), (54, 0), (0, 1)], 2)
    assert flow_positions([200], 100) == ([(0, 0)], 1)
    it = ready_window(window, photos)
    for i in range(30):
        window.add_tag(f"tag{i:02d}")
    chips = window.detail.chips
    window.resize(1024, 640)
    window.size_panes(1024)
    qtbot.wait(50)
    scroll = window.detail.composer.scroll
    assert len(it.kept()) == 30
    assert chips.height() >= chips.heightForWidth(chips.width())  # every row laid out whole
    assert scroll.verticalScrollBar().maximum() == 0  # and all of them on screen


def test_a_long_status_message_is_elided_beside_the_captioner_label_not_cut(window, photos):
    window.resize(1024, 640)
    window.review._model_loaded(__import__("desktop_app.session.model", fromlist=["ModelInfo"]).ModelInfo(
        "v", "LiteRT 2.3.0 · CPU, 2 threads", "Flickr8k"))
    long = "Done; 3 of 1,000 photos could not be tagged (see each photo's message in the grid) " * 3
    window.notify(long)
    QGuiApplication.processEvents()
    line, label = window.status_line, window.device_label
    assert line.geometry().right() < label.geometry().left()  # side by side, never under it
    assert line.text().endswith("…") and line.toolTip() == long  # the whole text on hover
    window.notify("Added 12 photos.")
    assert line.fits() and line.text() == "Added 12 photos."
