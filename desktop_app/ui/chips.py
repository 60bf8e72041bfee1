"""Hashtag chips: ranked suggestions with a confidence, ✓/✕ buttons, drag-to-reorder.

A QListView in wrapping left-to-right flow whose delegate paints each tag as a pill and
hit-tests clicks on its ✓ and ✕. The current chip is the "focused tag" that A/R act on.
Ctrl+Left/Right (or dragging) reorders. Only plain values sit in the model's roles, so Qt's
own drag-and-drop can move the rows.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QModelIndex, QRect, QSize, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QLineEdit,
    QListView,
    QStyle,
    QStyledItemDelegate,
)

from ..export.instagram import KEEP_STATES
from ..results import UNSURE_WORD, HashtagSuggestion

TagRole = Qt.ItemDataRole.UserRole + 10
ScoreRole = Qt.ItemDataRole.UserRole + 11
StateRole = Qt.ItemDataRole.UserRole + 12  # "", "approved", "added", "rejected", "removed"

STATE_COLOURS = {"approved": "#2da44e", "added": "#2da44e", "rejected": "#cf222e"}
PAD, BTN, H = 10, 22, 30


SOURCE_WORDS = {
    "caption": "from the caption",
    "imagenet": "from the image classifier",
    "detector": "seen in the photo",
    "library": "from your library",
    "popular": "a popular form of {base}",
    "trending": "trending",
    "rule": "one of your always-add tags",
    "you": "added by you",
}
def _esc(text: str) -> str:
    return html.escape(text, quote=False)


_BASE = re.compile(r"a popular form of (#\w+)")


def _clauses(reason: str) -> list[str]:
    return [c.strip() for c in reason.split(";") if c.strip()]


def source_words(s: HashtagSuggestion) -> str:
    """Where a suggestion came from, in plain words ("a popular form of #dog").

    When the reason has a clause saying the same in more detail ('from the caption: "teddy
    bear"'), that clause is the answer.
    """
    text = SOURCE_WORDS.get(s.source, f"source: {s.source}")
    if s.source == "popular":
        m = _BASE.search(s.reason)
        base = m.group(1) if m else ("#" + "".join(s.words) if s.words else "a suggested tag")
        text = text.format(base=base)
    lead = text.split(" (")[0].split("{")[0]
    for clause in _clauses(s.reason):
        if clause.startswith(lead):
            return clause
    if s.words and s.source == "caption":
        text += f" (“{' '.join(s.words)}”)"
    return text


def popularity_words(value: float) -> str:
    """parts["popularity"] (0..1, from word frequencies) in words."""
    from ..tagging.popularity import describe

    return describe(value) + " — how common the word is online, not a count of posts"


def tooltip_for(s: HashtagSuggestion, token_probs=(), tokens=()) -> str:
    """Why it was suggested, in words: where from, the reason, popularity, the score's parts.

    With the caption's `token_probs` (and `tokens`), a tag from words the model was unsure of
    says so.
    """
    source = source_words(s)
    lines = [f"<b>{_esc(s.tag)}</b> — score {round(s.score * 100)}%", _esc(source)]
    shaky = [i for i in s.token_indices if i < len(token_probs) and token_probs[i] < UNSURE_WORD]
    if shaky:
        said = ", ".join(f"“{tokens[i] if i < len(tokens) else '?'}” ({token_probs[i]:.0%})" for i in shaky)
        lines.append(_esc(f"the model was unsure of {said}"))
    extra = [c for c in _clauses(s.reason) if c != source and not c.startswith("popularity ")]
    if extra:
        lines.append(_esc("; ".join(extra)))
    if "popularity" in s.parts:
        lines.append(_esc(popularity_words(float(s.parts["popularity"]))))
    parts = {k: v for k, v in s.parts.items() if k != "popularity"}
    if parts:
        lines.append("<small>score parts: " + ", ".join(f"{k} {v:+.2f}" for k, v in parts.items()) + "</small>")
    return "<br>".join(lines)


class ChipDelegate(QStyledItemDelegate):
    decide = Signal(str, str)  # tag, "approve" | "reject" | "remove"
    picked = Signal(str)  # tag clicked (not on ✓/✕): show its attention

    def _text(self, index) -> str:
        return f"{index.data(TagRole)}  {round(float(index.data(ScoreRole) or 0) * 100)}%"

    def sizeHint(self, option, index) -> QSize:
        w = option.fontMetrics.horizontalAdvance(self._text(index))
        return QSize(PAD + w + 6 + 2 * BTN + 6, H)

    @staticmethod
    def _buttons(rect: QRect) -> tuple[QRect, QRect]:
        r = rect.adjusted(2, 2, -2, -2)
        reject = QRect(r.right() - BTN - 3, r.y() + (r.height() - BTN) // 2, BTN, BTN)
        approve = QRect(reject.x() - BTN, reject.y(), BTN, BTN)
        return approve, reject

    def paint(self, painter: QPainter, option, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        state = index.data(StateRole) or ""
        r = option.rect.adjusted(2, 2, -2, -2)
        base = pal.color(QPalette.ColorRole.Button)
        border = pal.color(QPalette.ColorRole.Mid)
        if state in STATE_COLOURS:
            c = QColor(STATE_COLOURS[state])
            border = c
            base = QColor(c.red(), c.green(), c.blue(), 60)
        if option.state & QStyle.StateFlag.State_HasFocus or option.state & QStyle.StateFlag.State_Selected:
            border = pal.color(QPalette.ColorRole.Highlight)
        painter.setBrush(base)
        pen = painter.pen()
        pen.setColor(border)
        pen.setWidthF(2.0 if option.state & QStyle.StateFlag.State_Selected else 1.0)
        painter.setPen(pen)
        painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        font = QFont(option.font)
        font.setStrikeOut(state in ("rejected", "removed"))
        painter.setFont(font)
        text_col = pal.color(QPalette.ColorRole.ButtonText)
        if state in ("rejected", "removed"):
            text_col = pal.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(text_col)
        tag = str(index.data(TagRole))
        fm = painter.fontMetrics()
        x = r.x() + PAD
        painter.drawText(QRect(x, r.y(), fm.horizontalAdvance(tag) + 2, r.height()),
                         Qt.AlignmentFlag.AlignVCenter, tag)
        pct = f"{round(float(index.data(ScoreRole) or 0) * 100)}%"
        small = QFont(font)
        small.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        painter.setFont(small)
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(QRect(x + fm.horizontalAdvance(tag + "  "), r.y(), 40, r.height()),
                         Qt.AlignmentFlag.AlignVCenter, pct)
        approve, reject = self._buttons(option.rect)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor("#2da44e") if state not in KEEP_STATES else QColor("white"))
        if state in KEEP_STATES:
            painter.setBrush(QColor("#2da44e"))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(approve.adjusted(2, 2, -2, -2))
            painter.setPen(QColor("white"))
        painter.drawText(approve, Qt.AlignmentFlag.AlignCenter, "✓")
        painter.setPen(QColor("#cf222e") if state != "rejected" else QColor("white"))
        if state == "rejected":
            painter.setBrush(QColor("#cf222e"))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(reject.adjusted(2, 2, -2, -2))
            painter.setPen(QColor("white"))
        painter.drawText(reject, Qt.AlignmentFlag.AlignCenter, "✕")
        painter.restore()

    def editorEvent(self, event, model, option, index) -> bool:
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            approve, reject = self._buttons(option.rect)
            pos = event.position().toPoint()
            tag = str(index.data(TagRole))
            state = index.data(StateRole) or ""
            if approve.contains(pos):
                self.decide.emit(tag, "remove" if state in KEEP_STATES else "approve")
                return True
            if reject.contains(pos):
                self.decide.emit(tag, "reject")
                return True
            self.picked.emit(tag)
        return super().editorEvent(event, model, option, index)


class ChipView(QListView):
    """The chips of one photo. Emits decide(tag, action), picked(tag) and orderChanged(tags)."""

    decide = Signal(str, str)
    picked = Signal(str)
    orderChanged = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.chips = QStandardItemModel(self)
        self.setModel(self.chips)
        self.delegate = ChipDelegate(self)
        self.setItemDelegate(self.delegate)
        self.delegate.decide.connect(self.decide)
        self.delegate.picked.connect(self.picked)
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(3)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDropIndicatorShown(True)
        self.viewport().setAutoFillBackground(False)
        self._emit_later = QTimer(self, singleShot=True, interval=0)
        # Every Python slot here returns None: a slot returning a bool (e.g. `signal.emit(...)`
        # from a lambda) corrupted the refcount of True/False in PySide6 6.12 and aborted
        # the interpreter at exit.
        self._emit_later.timeout.connect(self._emit_order)
        self.chips.rowsMoved.connect(self._moved)
        self.chips.rowsRemoved.connect(self._dropped)
        self._loading = False
        self.selectionModel().currentRowChanged.connect(self._current_changed)

    def _emit_order(self) -> None:
        self.orderChanged.emit(self.tags())

    def _moved(self, *_args) -> None:
        self._emit_later.start()

    def _current_changed(self, cur, _prev) -> None:
        if cur.isValid():
            self.picked.emit(str(cur.data(TagRole)))

    def _dropped(self, *_args) -> None:
        if not self._loading:
            self._emit_later.start()

    def set_tags(self, suggestions: list[HashtagSuggestion], decisions: dict[str, str],
                 order: list[str] | None = None, caption=None) -> None:
        """Show suggestions plus the user's added tags; `order` (tags) wins over the ranking.

        `caption` (a CaptionResult) lets the tooltips say which source words were unsure.
        """
        probs = tuple(caption.token_probs) if caption is not None else ()
        toks = tuple(caption.tokens) if caption is not None else ()
        by_tag = {s.tag: s for s in suggestions}
        for tag, state in decisions.items():
            if tag not in by_tag and state in KEEP_STATES:
                by_tag[tag] = HashtagSuggestion(tag, 1.0, "you", reason="You added this tag.")
        tags = list(by_tag)
        if order:
            known = [t for t in order if t in by_tag]
            tags = known + [t for t in tags if t not in known]
        self._loading = True
        self.chips.clear()
        for tag in tags:
            s = by_tag[tag]
            item = QStandardItem()
            item.setData(tag, TagRole)
            item.setData(float(s.score), ScoreRole)
            item.setData(decisions.get(tag, ""), StateRole)
            item.setData(tooltip_for(s, probs, toks), Qt.ItemDataRole.ToolTipRole)
            item.setData(tag, Qt.ItemDataRole.AccessibleTextRole)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
            self.chips.appendRow(item)
        self._loading = False

    def set_states(self, decisions: dict[str, str]) -> None:
        for row in range(self.chips.rowCount()):
            it = self.chips.item(row)
            it.setData(decisions.get(str(it.data(TagRole)), ""), StateRole)

    def tags(self) -> list[str]:
        return [str(self.chips.item(r).data(TagRole)) for r in range(self.chips.rowCount())]

    def state_of(self, tag: str) -> str:
        for r in range(self.chips.rowCount()):
            if self.chips.item(r).data(TagRole) == tag:
                return self.chips.item(r).data(StateRole) or ""
        return ""

    def focused_tag(self) -> str | None:
        """The current chip, else the first one not decided yet."""
        idx = self.currentIndex()
        if idx.isValid():
            return str(idx.data(TagRole))
        for r in range(self.chips.rowCount()):
            if not self.chips.item(r).data(StateRole):
                return str(self.chips.item(r).data(TagRole))
        return None

    def focus_next_undecided(self, after: str) -> None:
        tags = self.tags()
        start = tags.index(after) + 1 if after in tags else 0
        for r in list(range(start, len(tags))) + list(range(0, start)):
            if not self.chips.item(r).data(StateRole):
                self.setCurrentIndex(self.chips.index(r, 0))
                return

    def move_current(self, delta: int) -> None:
        row = self.currentIndex().row()
        to = row + delta
        if row < 0 or not 0 <= to < self.chips.rowCount():
            return
        self._loading = True
        items = self.chips.takeRow(row)
        self.chips.insertRow(to, items)
        self._loading = False
        self.setCurrentIndex(self.chips.index(to, 0))
        self.orderChanged.emit(self.tags())

    def keyPressEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.move_current(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(400, 140)

    def index_of(self, tag: str) -> QModelIndex:
        for r in range(self.chips.rowCount()):
            if self.chips.item(r).data(TagRole) == tag:
                return self.chips.index(r, 0)
        return QModelIndex()


class TagEntry(QLineEdit):
    """'Add a hashtag…' with completion from the library's known tags."""

    def __init__(self, known_tags=None, parent=None):
        super().__init__(parent)
        self.known_tags = known_tags  # callable(prefix, limit) -> list[str], or None
        self.setPlaceholderText("Add a hashtag…")
        self.setClearButtonEnabled(True)
        self._words = QStringListModel(self)
        comp = QCompleter(self._words, self)
        comp.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        comp.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setCompleter(comp)
        self.textEdited.connect(self._refresh)

    def _refresh(self, text: str) -> None:
        if not self.known_tags or not text.strip().lstrip("#"):
            return
        try:
            words = self.known_tags(text.strip(), 20)
        except Exception:  # noqa: BLE001 - completion is a nicety; a locked library must not break typing
            return
        if not text.startswith("#"):
            words = [w.lstrip("#") for w in words]
        self._words.setStringList(words)
