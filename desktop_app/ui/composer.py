"""The post composer: the post as it will be pasted, and the hashtags that make it.

Top to bottom: "Post" with the count against Instagram's 30; the post itself (the caption line
only when the user approved or wrote it, then the approved tags in the chips' order); whether
the caption goes in, Copy and Export; the chips (all suggestions, a flowing layout that takes
the rows it needs); a line to type a tag.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..results import MAX_HASHTAGS
from ..session.photo import Post
from .chips import GAP, ChipFlow, H, TagEntry

EMPTY_POST = "Approve hashtags (✓ or A) and the post appears here, as it will be pasted."
NO_POST = "The post appears here once the photo is tagged."
KEYS_HINT = "A approve · R reject · arrows move · Space toggles · Enter next photo"


class ChipScroll(QScrollArea):
    """Holds the chips; asks for all their rows, scrolls (by whole rows) only when the panel
    is shorter than that."""

    def __init__(self, chips: ChipFlow, parent=None):
        super().__init__(parent)
        self.setWidget(chips)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalScrollBar().setSingleStep(H + GAP)
        self.viewport().setAutoFillBackground(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self):
        hint = super().sizeHint()
        hint.setHeight(self.widget().heightForWidth(max(200, self.viewport().width())) + 2)
        return hint


class Composer(QWidget):
    copyRequested = Signal()
    exportRequested = Signal()
    captionToggled = Signal(bool)
    addTag = Signal(str)

    def __init__(self, known_tags=None, parent=None):
        super().__init__(parent)
        title = QLabel("<b>Post</b>")
        self.counter = QLabel()
        self.counter.setToolTip(f"Instagram takes at most {MAX_HASHTAGS} hashtags a post")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch()
        head.addWidget(self.counter)

        self.preview = QLabel()
        self.preview.setObjectName("postPreview")
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.RichText)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # the palette's Base, not a style sheet's palette(base): it follows a theme change
        self.preview.setAutoFillBackground(True)
        self.preview.setBackgroundRole(QPalette.ColorRole.Base)
        self.preview.setForegroundRole(QPalette.ColorRole.Text)
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview.setMargin(6)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.with_caption = QCheckBox("Caption in the post")
        self.with_caption.setToolTip("The model's caption goes in the post only when you tick this "
                                     "(a caption you write goes in by itself)")
        self.with_caption.toggled.connect(self._caption_toggled)
        self.copy = QPushButton("Copy post")
        self.copy.setToolTip(f"The caption line (if ticked) and the approved hashtags (at most "
                             f"{MAX_HASHTAGS}), ready to paste into Instagram (Ctrl+C)")
        self.copy.clicked.connect(self.copyRequested)
        self.export = QPushButton("Export…")
        self.export.setToolTip("All photos' posts as text, CSV, or XMP sidecars (Ctrl+E)")
        self.export.clicked.connect(self.exportRequested)
        actions = QHBoxLayout()
        actions.addWidget(self.with_caption)
        actions.addStretch()
        actions.addWidget(self.copy)
        actions.addWidget(self.export)

        tags_title = QLabel("<b>Hashtags</b>")
        keys = QLabel(KEYS_HINT)
        keys.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        small = keys.font()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        keys.setFont(small)
        keys.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        tags_head = QHBoxLayout()
        tags_head.addWidget(tags_title)
        tags_head.addSpacing(8)
        tags_head.addWidget(keys, 1)
        self.chips = ChipFlow()
        self.scroll = ChipScroll(self.chips)
        self.entry = TagEntry(known_tags)
        self.entry.returnPressed.connect(self._add)
        self.entry.setAcceptDrops(False)
        self.add = QPushButton("Add")
        self.add.clicked.connect(self._add)
        entry_row = QHBoxLayout()
        entry_row.addWidget(self.entry, 1)
        entry_row.addWidget(self.add)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        lay.addLayout(head)
        lay.addWidget(self.preview)
        lay.addLayout(actions)
        lay.addSpacing(4)
        lay.addLayout(tags_head)
        lay.addWidget(self.scroll, 1)
        lay.addLayout(entry_row)
        self._showing = False
        self.set_post(None, False, False)

    def set_post(self, post: Post | None, has_caption: bool, caption_on: bool) -> None:
        """Show `post` (None: no photo); the caption box follows the photo's caption state."""
        self._showing = True
        self.with_caption.setEnabled(has_caption)
        self.with_caption.setChecked(caption_on)
        self._showing = False
        for w in (self.copy, self.entry, self.add):
            w.setEnabled(post is not None)
        if post is None:
            self.preview.setText(f'<span style="color: palette(placeholder-text)"><i>{NO_POST}</i></span>')
            self.counter.setText("")
            return
        counter = html.escape(post.counter())
        self.counter.setText(f'<span style="color:#cf222e">{counter}</span>' if post.over else counter)
        if not post.tags and not post.caption:
            self.preview.setText(f'<span style="color: palette(placeholder-text)"><i>{EMPTY_POST}</i></span>')
            return
        parts = [html.escape(post.text).replace("\n", "<br>")]  # the text Copy pastes
        if post.left_out:
            parts.append(f'<span style="color: palette(placeholder-text)"><s>{html.escape(" ".join(post.left_out))}'
                         f"</s> (over {MAX_HASHTAGS}: not pasted)</span>")
        self.preview.setText("<br><br>".join(parts))

    def preview_text(self) -> str:
        """The preview as plain text (what Copy puts on the clipboard, less any note on tags
        over the limit)."""
        import re

        text = self.preview.text().split("<br><br><span")[0] if "not pasted" in self.preview.text() \
            else self.preview.text()
        return html.unescape(re.sub(r"<[^>]+>", "", text.replace("<br>", "\n")))

    def _caption_toggled(self, on: bool) -> None:
        if not self._showing:
            self.captionToggled.emit(on)

    def _add(self) -> None:
        text = self.entry.text().strip()
        if text:
            self.addTag.emit(text)
            self.entry.clear()
