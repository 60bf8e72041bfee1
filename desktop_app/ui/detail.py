"""The photo detail panel: photo (with a word's attention), clickable caption, hashtag chips."""

from __future__ import annotations

import html

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ..imaging import make_thumbnail
from ..results import LOW_CONFIDENCE, UNSURE_WORD, CaptionResult
from ..session.photo import Photo, post_of
from .canvas import Display, Outline, PhotoCanvas
from .composer import Composer
from .overlay import combine_rows, focus

DISPLAY_SIDE = 1400  # the detail view's copy of a photo is at most this big
PLAY_MS = 650
UNSURE_NOTE = ("The model is unsure about this photo — it learned from people, animals and "
               "outdoor scenes, so this caption is probably wrong.")
SPREAD_FOCUS = 2.0  # a word's brightest cell under this many times the average: "spread thin"


def load_display_image(path) -> Image.Image:
    """The photo, upright RGB, at most DISPLAY_SIDE on its long side (run in a worker)."""
    return make_thumbnail(path, DISPLAY_SIDE)


def percent(p: float) -> str:
    """0.004 -> "under 1%", 0.31 -> "31%"."""
    return "under 1%" if p < 0.005 else f"{p:.0%}"


def unsure_words(caption: CaptionResult | None) -> set[int]:
    """Indices of the words the model gave a probability under UNSURE_WORD."""
    if caption is None:
        return set()
    return set(caption.unsure_indices())


def mix(colour: str, background: str, amount: float) -> str:
    """`colour` moved `amount` (0..1) of the way to `background`, as #rrggbb."""
    a, b = QColor(colour), QColor(background)
    return QColor(round(a.red() + (b.red() - a.red()) * amount), round(a.green() + (b.green() - a.green()) * amount),
                  round(a.blue() + (b.blue() - a.blue()) * amount)).name()


def caption_html(tokens, current: int | None, link_colour: str, muted: set[int] = frozenset(),
                 unsure: set[int] = frozenset(), unsure_colour: str | None = None) -> str:
    """The caption's words as links '#w<i>'; the current word highlighted.

    `muted` words have no attention map (plain text); `unsure` ones (the model gave them a low
    probability) are lighter and in italics.
    """
    parts = []
    faint = unsure_colour or link_colour
    for i, tok in enumerate(tokens):
        word = html.escape(tok)
        italic = "; font-style:italic" if i in unsure else ""
        if i in muted:
            parts.append(f'<span style="{italic[2:]}">{word}</span>' if italic else f"<span>{word}</span>")
        elif i == current:
            parts.append(f'<a href="#w{i}" style="text-decoration:none; background:{link_colour};'
                         f' color:white; font-weight:bold{italic}">&nbsp;{word}&nbsp;</a>')
        else:
            colour = faint if i in unsure else link_colour
            parts.append(f'<a href="#w{i}" style="text-decoration:none; color:{colour}{italic}">{word}</a>')
    return " ".join(parts)


def _boxed(boxes: list[Outline]) -> str:
    if not boxes:
        return ""
    what = ", ".join(b.label for b in boxes[:3])
    return f" Outlined: where the detector found it ({what})."


class DetailPanel(QWidget):
    """Shows one Photo. Emits what the user does; the window talks to the pipeline."""

    decide = Signal(str, str)  # tag, approve | reject | remove
    addTag = Signal(str)
    orderChanged = Signal(list)
    captionEdited = Signal(str)
    copyRequested = Signal()
    exportRequested = Signal()
    captionApproved = Signal(bool)
    nextPhoto = Signal(int)

    def __init__(self, known_tags=None, parent=None):
        super().__init__(parent)
        self.item: Photo | None = None
        self.with_caption = True  # the setting: approved captions go in the post
        self.current_word: int | None = None
        self._picked_tag: str | None = None  # the chip whose attention is shown
        self._picked: tuple[int | None, str | None] | None = None  # what shows under a hover
        self.canvas = PhotoCanvas()

        cap_row = self._build_caption_row()

        self.note = QLabel()  # "the model is unsure about this photo": only when it is
        self.note.setObjectName("unsureNote")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("#unsureNote { background: palette(alternate-base); border-radius: 4px;"
                                " border-left: 3px solid palette(mid); padding: 4px 8px; }")
        self.note.setText(UNSURE_NOTE)
        self.note.hide()

        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.composer = Composer(known_tags)
        self.chips = self.composer.chips
        self.entry = self.composer.entry
        self.chips.decide.connect(self.decide)
        self.chips.picked.connect(self.show_tag)
        self.chips.hovered.connect(self._hover_tag)
        self.chips.orderChanged.connect(self.orderChanged)
        self.chips.nextPhoto.connect(self.nextPhoto)
        self.composer.addTag.connect(self.addTag)
        self.composer.copyRequested.connect(self.copyRequested)
        self.composer.exportRequested.connect(self.exportRequested)
        self.composer.captionToggled.connect(self.captionApproved)

        pane = QWidget()
        pl = QVBoxLayout(pane)
        pl.setContentsMargins(8, 8, 4, 8)
        pl.addWidget(self.canvas, 1)
        pl.addLayout(cap_row)
        pl.addWidget(self.note)
        pl.addWidget(self.hint)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(pane)
        self.split.addWidget(self.composer)
        self.split.setStretchFactor(0, 5)
        self.split.setStretchFactor(1, 4)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.split)

        self.timer = QTimer(self, interval=PLAY_MS)
        self.timer.timeout.connect(self._step)
        self.show_item(None)

    def _build_caption_row(self) -> QHBoxLayout:
        self.play = QToolButton()
        self.play.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play.setToolTip("Walk through the caption word by word")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._toggle_play)
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                             | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.caption.linkActivated.connect(self._link)
        self.caption.linkHovered.connect(self._hovered)
        self.caption.installEventFilter(self)  # each word's tooltip: its probability
        self._hover_word: int | None = None
        self.caption.setToolTip("Click a word to see where the model looked")
        f = self.caption.font()
        f.setPointSizeF(f.pointSizeF() * 1.35)
        self.caption.setFont(f)
        self.caption_edit = QLineEdit()
        self.caption_edit.setFont(f)
        self.caption_edit.returnPressed.connect(self._finish_edit)
        self.caption_edit.setAcceptDrops(False)  # dropped photos go to the window
        self.caption_stack = QStackedWidget()
        self.caption_stack.addWidget(self.caption)
        self.caption_stack.addWidget(self.caption_edit)
        self.caption_stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.edit = QToolButton(text="Edit")
        self.edit.setToolTip("Edit the caption (Enter to keep, Esc to cancel)")
        self.edit.clicked.connect(self._start_edit)
        self.confidence = QLabel()
        self.confidence.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.confidence.setToolTip(
            "How sure the model is of this caption as a whole (the geometric mean of its words'"
            f" probabilities).<br>Words it gave under {UNSURE_WORD:.0%} are lighter and slanted;"
            " hover a word to see its probability.")
        cap_row = QHBoxLayout()
        cap_row.addWidget(self.play, 0, Qt.AlignmentFlag.AlignTop)
        cap_row.addWidget(self.caption_stack, 1)
        cap_row.addWidget(self.confidence, 0, Qt.AlignmentFlag.AlignVCenter)
        cap_row.addWidget(self.edit, 0, Qt.AlignmentFlag.AlignTop)
        return cap_row

    # -- showing -----------------------------------------------------------------------
    def _link_colour(self) -> str:
        return self.palette().color(QPalette.ColorRole.Highlight).name()

    def tokens(self) -> tuple[str, ...]:
        res = self.item.result if self.item else None
        return res.caption.tokens if res is not None and res.caption is not None else ()

    def show_item(self, item: Photo | None, photo: Display | Image.Image | None = None) -> None:
        """Show `item`; `photo` is its display image when already loaded (else set later)."""
        same = item is not None and self.item is not None and item.path == self.item.path
        self.item = item
        self.play.setChecked(False)
        self.caption_stack.setCurrentIndex(0)
        if not same:
            self.current_word = None
            self.canvas.set_photo(photo, self._photo_message(item))
        self.refresh()

    def _photo_message(self, item: Photo | None) -> str:
        if item is None:
            return "Select a photo to see its caption and hashtags."
        if item.error:
            return f"⚠ {item.error}"
        return "Loading…"

    def set_photo(self, path, img: Display | Image.Image | None, error: str | None = None) -> None:
        if self.item is None or self.item.path != path:
            return
        self.canvas.set_photo(img, f"⚠ {error}" if error else "")
        if self._picked_tag:
            self.show_tag(self._picked_tag)
        elif self.current_word is not None:
            self.select_word(self.current_word)

    def refresh(self) -> None:
        """Re-read the item (caption, chips, the post) after a change."""
        it = self.item
        res = it.result if it else None
        has = res is not None and res.caption is not None
        for w in (self.play, self.edit):
            w.setEnabled(has)
        if not has:
            self.caption.setText(f"<i>{html.escape(it.error or it.status.value + '…')}</i>" if it else "")
            for w in (self.hint, self.confidence):
                w.setText("")
            self.note.hide()
            self.chips.set_tags([], {})
            self.composer.set_post(None, False, False)
            return
        cap = res.caption
        edited = it.edited  # set wherever the caption is edited
        self.play.setEnabled(len(self._muted()) < len(cap.tokens))  # a word with a map to walk to
        self._render_caption()
        self.chips.set_tags(res.hashtags, it.decisions, it.order, None if edited else cap)
        self.update_post()
        self.confidence.setText("edited" if edited else f"confidence {percent(cap.confidence)}")
        low = not edited and cap.confidence < LOW_CONFIDENCE
        self.note.setVisible(low)
        if edited:
            self.hint.setText("Caption edited; words you typed have no attention map.")
        elif cap.source == "detections":
            self.hint.setText("The captioner was unsure of this photo: this caption is made from what the "
                              "detectors saw. Click a word in it to see its box.")
        elif cap.source == "grounded":
            self.hint.setText(f"The detectors corrected the captioner (it said \u201c{cap.original}\u201d). "
                              "Click a word to see where the model looked.")
        elif unsure_words(cap) and not low:
            self.hint.setText("Click a word or a hashtag to see where the model looked; lighter words are "
                              "ones it was unsure of.")
        else:
            self.hint.setText("Click a word or a hashtag to see where the model looked.")

    def update_post(self) -> None:
        it = self.item
        post = post_of(it, self.with_caption) if it is not None and it.taggable else None
        self.composer.set_post(post, bool(it and it.caption), bool(it and it.caption_approved))

    def _muted(self) -> set[int]:
        res = self.item.result if self.item else None
        if res is None or res.caption is None:
            return set()
        att = np.asarray(res.caption.attention)
        return {i for i in range(len(res.caption.tokens)) if i >= len(att) or not np.isfinite(att[i]).all()
                or float(np.ptp(att[i])) == 0.0}

    def unsure(self) -> set[int]:
        """The caption words shown as unsure (none once the user has edited the caption)."""
        it = self.item
        if it is None or it.result is None or it.edited:
            return set()
        return unsure_words(it.result.caption)

    def _render_caption(self) -> None:
        link = self._link_colour()
        faint = mix(link, self.palette().color(QPalette.ColorRole.Window).name(), 0.45)
        self.caption.setText(caption_html(self.tokens(), self.current_word, link, self._muted(),
                                          self.unsure(), faint))

    def word_tip(self, index: int) -> str:
        """A caption word's tooltip: the probability the model gave it."""
        res = self.item.result if self.item else None
        cap = res.caption if res is not None else None
        if cap is None or not 0 <= index < len(cap.tokens):
            return ""
        lines = [f"<b>{html.escape(cap.tokens[index])}</b>"]
        if index < len(cap.token_probs) and not self.item.edited:
            p = float(cap.token_probs[index])
            lines.append(f"the model gave this word {percent(p)}"
                         + (" — it was unsure of it" if p < UNSURE_WORD else ""))
        lines.append("Click to see where the model looked.")
        return "<br>".join(lines)

    def _hovered(self, href: str) -> None:
        self._hover_word = int(href[2:]) if href.startswith("#w") else None
        if self._hover_word is None:
            QToolTip.hideText()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.caption and event.type() == QEvent.Type.ToolTip and self._hover_word is not None:
            QToolTip.showText(event.globalPos(), self.word_tip(self._hover_word), self.caption)
            return True
        return super().eventFilter(obj, event)

    # -- attention ---------------------------------------------------------------------
    def _link(self, href: str) -> None:
        if href.startswith("#w"):
            self.select_word(int(href[2:]))

    def select_word(self, index: int | None) -> None:
        """Overlay the attention of caption word `index` (None: the plain photo)."""
        self._picked_tag = None
        res = self.item.result if self.item else None
        if res is None or res.caption is None or index is None or not 0 <= index < len(res.caption.tokens):
            self.current_word = None
            self.canvas.set_weights(None)
            self.canvas.set_boxes([])
        else:
            self.current_word = index
            muted = index in self._muted()
            weights = None if muted else res.caption.attention_map(index)
            self.canvas.set_weights(weights)
            boxes = self.outlines(word=index)
            self.canvas.set_boxes(boxes)
            word = res.caption.tokens[index]
            if muted:
                typed = " (you typed it)" if self.item.edited else ""
                self.hint.setText(f"“{word}” has no attention map{typed}." + _boxed(boxes))
            else:
                if index in res.caption.boxed_words:
                    self.hint.setText(f"“{word}”: the detector's word, not the captioner's: the "
                                      "glow is the box it found." + _boxed(boxes))
                else:
                    self.hint.setText(self._looked(f"“{word}”", weights) + _boxed(boxes))
        if res is not None and res.caption is not None:
            self._render_caption()

    @staticmethod
    def _looked(what: str, weights: np.ndarray) -> str:
        f = focus(weights)
        if f < SPREAD_FOCUS:
            return (f"{what}: the model's attention was spread thin (its brightest spot only {f:.1f}× "
                    "the average), so the glow is a rough guide.")
        return f"{what}: the glow is where the model looked, brightest at the ring."

    def outlines(self, tag: str | None = None, word: int | None = None) -> list[Outline]:
        """The detector boxes of a hashtag (its box_indices), or of a caption word (the boxes of
        the hashtags made from it, and detections labelled with it)."""
        res = self.item.result if self.item else None
        if res is None or not res.detections:
            return []
        picked: list[int] = []
        for h in res.hashtags:
            if (tag is not None and h.tag == tag) or (word is not None and word in h.token_indices):
                picked += [i for i in h.box_indices if 0 <= i < len(res.detections)]
        if word is not None and res.caption is not None and 0 <= word < len(res.caption.tokens):
            w = res.caption.tokens[word].lower()
            picked += [i for i, d in enumerate(res.detections) if d.label.lower() in (w, w.rstrip("s"))]
        return [Outline(res.detections[i].box, f"{res.detections[i].label} {res.detections[i].score:.0%}")
                for i in dict.fromkeys(picked)]

    def _hover_tag(self, tag: str) -> None:
        """A chip under the mouse shows its attention; leaving it brings back what was picked."""
        if tag:
            if self._picked is None:
                self._picked = (self.current_word, self._picked_tag)
            self.show_tag(tag, hover=True)
            return
        if self._picked is not None:
            word, picked_tag = self._picked
            self._picked = None
            if picked_tag:
                self.show_tag(picked_tag)
            else:
                self.select_word(word)

    def show_tag(self, tag: str, hover: bool = False) -> None:
        """Overlay the attention of the words a hashtag came from (if it came from the caption)."""
        res = self.item.result if self.item else None
        if res is None or res.caption is None:
            return
        if not hover:
            self._picked, self._picked_tag = None, tag
        sug = next((h for h in res.hashtags if h.tag == tag), None)
        idx = [i for i in (sug.token_indices if sug else ()) if i not in self._muted()]
        cap = res.caption
        weights = combine_rows(np.asarray(cap.attention), idx, cap.grid) if idx else None
        self.current_word = idx[0] if len(idx) == 1 else None
        self.canvas.set_weights(weights)
        boxes = self.outlines(tag=tag)
        self.canvas.set_boxes(boxes)
        self._render_caption()
        if weights is None and boxes:
            self.hint.setText(f"{tag}: outlined where the detector found it.")
        elif weights is None:
            self.hint.setText(f"{tag} does not come from a caption word, so it has no attention map.")
        else:
            words = " ".join(res.caption.tokens[i] for i in idx)
            self.hint.setText(self._looked(f"{tag} (from “{words}”)", weights) + _boxed(boxes))

    def _toggle_play(self, on: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay
        self.play.setIcon(self.style().standardIcon(icon))
        if on and self.tokens():
            if self.current_word is None or self.current_word >= len(self.tokens()) - 1:
                self.current_word = -1
            self._step()
            self.timer.start()
        else:
            self.timer.stop()

    def _step(self) -> None:
        n = len(self.tokens())
        nxt = (self.current_word if self.current_word is not None else -1) + 1
        if nxt >= n:
            self.play.setChecked(False)
            return
        self.select_word(nxt)

    # -- editing -----------------------------------------------------------------------
    def _start_edit(self) -> None:
        if self.item is None:
            return
        self.caption_edit.setText(self.item.caption or " ".join(self.tokens()))
        self.caption_stack.setCurrentIndex(1)
        self.caption_edit.setFocus()
        self.caption_edit.selectAll()

    def _finish_edit(self) -> None:
        text = " ".join(self.caption_edit.text().split())
        self.caption_stack.setCurrentIndex(0)
        if text and self.item is not None and text != (self.item.caption or ""):
            self.captionEdited.emit(text)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.caption_stack.currentIndex() == 1:
            self.caption_stack.setCurrentIndex(0)
            return
        super().keyPressEvent(event)
