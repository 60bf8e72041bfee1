"""Hashtag chips: a flowing layout of pills with ✓ and ✕, keyboard-first, drag to reorder.

`ChipFlow` paints each tag as a pill in rows that wrap to its width and asks for the height all
rows need (height-for-width), so a row is never cut: the panel gives it the room, or the scroll
area around it scrolls by whole rows. The focused chip is the one A / R act on; arrows move the
focus (Up/Down by row), Ctrl+Left/Right or dragging reorders, Backspace undoes a decision.
The ✓ and ✕ are drawn as strokes, not font glyphs (no empty boxes with a font that lacks them).
`flow_positions` (the layout) is pure and tested without a window.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSize, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QApplication, QCompleter, QLineEdit, QSizePolicy, QToolTip, QWidget

from ..export.instagram import KEEP_STATES
from ..results import UNSURE_WORD, HashtagSuggestion
from ..session.photo import chip_tags

STATE_COLOURS = {"approved": "#2da44e", "added": "#2da44e", "rejected": "#cf222e"}
PAD, BTN, H, GAP = 9, 19, 26, 4  # text padding, a ✓/✕ button, a chip's height, space between


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


@dataclass(frozen=True)
class Chip:
    tag: str
    score: float
    state: str = ""  # "", "approved", "added", "rejected", "removed"


def flow_positions(widths: list[int], avail: int, gap: int = GAP) -> tuple[list[tuple[int, int]], int]:
    """Left-to-right rows that wrap at `avail`: ((x, row) of each chip, number of rows).

    A chip wider than the row gets a row of its own (and is drawn clipped to it)."""
    out: list[tuple[int, int]] = []
    x, row = 0, 0
    for w in widths:
        if x > 0 and x + w > avail:
            x, row = 0, row + 1
        out.append((x, row))
        x += w + gap
    return out, (row + 1 if widths else 0)


class ChipFlow(QWidget):
    """The chips of one photo. Emits decide(tag, action), picked(tag), hovered(tag or ""),
    orderChanged(tags), nextPhoto(step)."""

    decide = Signal(str, str)  # tag, "approve" | "reject" | "remove"
    picked = Signal(str)  # clicked or focused: show its attention
    hovered = Signal(str)  # under the mouse ("" when none)
    orderChanged = Signal(list)
    nextPhoto = Signal(int)  # Enter: +1, Shift+Enter: -1

    def __init__(self, parent=None):
        super().__init__(parent)
        self.chips: list[Chip] = []
        self._why: tuple[dict[str, HashtagSuggestion], tuple, tuple] = ({}, (), ())
        self.current = -1
        self._rects: list[QRect] = []
        self._hover = -1
        self._press: tuple[int, QPoint] | None = None
        self._drag_to: int | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setAccessibleName("Hashtags")

    # -- contents --------------------------------------------------------------------------
    def set_tags(self, suggestions: list[HashtagSuggestion], decisions: dict[str, str],
                 order: list[str] | None = None, caption=None) -> None:
        """Show suggestions plus the user's added tags; `order` (tags) wins over the ranking.

        `caption` (a CaptionResult) lets the tooltips say which source words were unsure."""
        probs = tuple(caption.token_probs) if caption is not None else ()
        toks = tuple(caption.tokens) if caption is not None else ()
        by_tag = {s.tag: s for s in suggestions}
        tags = chip_tags(by_tag, decisions, order or ())
        for tag in tags:
            if tag not in by_tag:
                by_tag[tag] = HashtagSuggestion(tag, 1.0, "you", reason="You added this tag.")
        focused = self.focused_tag() if self.current >= 0 else None
        chips = [Chip(t, float(by_tag[t].score), decisions.get(t, "")) for t in tags]
        self._why = (by_tag, probs, toks)  # tooltips are written when asked for
        self.current = tags.index(focused) if focused in tags else -1
        if chips != self.chips:
            same_tags = [c.tag for c in chips] == self.tags()
            self.chips = chips
            if same_tags:
                self.update()  # (states only: no new layout)
            else:
                self._relayout()

    def tags(self) -> list[str]:
        return [c.tag for c in self.chips]

    def tip(self, index: int) -> str:
        """Chip `index`'s tooltip: why it was suggested, in words."""
        by_tag, probs, toks = self._why
        chip = self.chips[index]
        return tooltip_for(by_tag[chip.tag], probs, toks) if chip.tag in by_tag else ""

    def state_of(self, tag: str) -> str:
        return next((c.state for c in self.chips if c.tag == tag), "")

    def index_of(self, tag: str) -> int:
        return next((i for i, c in enumerate(self.chips) if c.tag == tag), -1)

    def set_current(self, index: int) -> None:
        """Focus chip `index` (-1: none)."""
        index = index if 0 <= index < len(self.chips) else -1
        if index != self.current:
            self.current = index
            self.update()
            if index >= 0:
                self.picked.emit(self.chips[index].tag)

    def focused_tag(self) -> str | None:
        """The current chip, else the first one not decided yet."""
        if 0 <= self.current < len(self.chips):
            return self.chips[self.current].tag
        return next((c.tag for c in self.chips if not c.state), None)

    def focus_next_undecided(self, after: str) -> None:
        tags = self.tags()
        start = tags.index(after) + 1 if after in tags else 0
        for r in list(range(start, len(tags))) + list(range(0, start)):
            if not self.chips[r].state:
                self.set_current(r)
                return

    def move_current(self, delta: int) -> None:
        self._move(self.current, self.current + delta)

    def _move(self, row: int, to: int) -> None:
        if row < 0 or not 0 <= to < len(self.chips) or to == row:
            return
        chip = self.chips.pop(row)
        self.chips.insert(to, chip)
        self.current = to
        self._relayout()
        self.orderChanged.emit(self.tags())

    # -- geometry ----------------------------------------------------------------------------
    def chip_width(self, chip: Chip, fm: QFontMetrics | None = None) -> int:
        """Its tag, the two buttons, padding (the score is a bar along its bottom edge)."""
        fm = fm or self.fontMetrics()
        return PAD + fm.horizontalAdvance(chip.tag) + 5 + 2 * BTN + 4

    def _layout(self, width: int) -> tuple[list[QRect], int]:
        fm = self.fontMetrics()
        widths = [min(width, self.chip_width(c, fm)) for c in self.chips]
        pos, rows = flow_positions(widths, max(1, width))
        rects = [QRect(x, r * (H + GAP), w, H) for (x, r), w in zip(pos, widths, strict=True)]
        return rects, rows * (H + GAP) - (GAP if rows else 0)

    def rows(self) -> int:
        return len({r.y() for r in self._rects})

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return max(H, self._layout(width)[1])

    def sizeHint(self) -> QSize:
        w = max(300, self.width())
        return QSize(w, self.heightForWidth(w))

    def minimumSizeHint(self) -> QSize:
        return QSize(BTN * 2 + 60, H)

    def _relayout(self) -> None:
        self._rects, height = self._layout(self.width())
        self.setMinimumHeight(max(H, height))
        self.updateGeometry()
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def chip_rect(self, index: int) -> QRect:
        return self._rects[index] if 0 <= index < len(self._rects) else QRect()

    def _at(self, pos: QPoint) -> int:
        return next((i for i, r in enumerate(self._rects) if r.contains(pos)), -1)

    @staticmethod
    def buttons(rect: QRect) -> tuple[QRect, QRect]:
        """The ✓ and ✕ hit areas of a chip."""
        reject = QRect(rect.right() - BTN - 3, rect.y() + (rect.height() - BTN) // 2, BTN, BTN)
        approve = QRect(reject.x() - BTN, reject.y(), BTN, BTN)
        return approve, reject

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        for i, (chip, rect) in enumerate(zip(self.chips, self._rects, strict=True)):
            self._paint_chip(p, chip, rect, i == self.current, i == self._hover)
        if self._drag_to is not None and self._rects:
            p.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 3))
            r = self._rects[min(self._drag_to, len(self._rects) - 1)]
            x = r.left() - 2 if self._drag_to < len(self._rects) else r.right() + 2
            p.drawLine(x, r.top(), x, r.bottom())
        p.end()

    def _paint_chip(self, p: QPainter, chip: Chip, rect: QRect, current: bool, hover: bool) -> None:
        pal = self.palette()
        r = rect.adjusted(1, 1, -1, -1)
        base, border = pal.color(QPalette.ColorRole.Button), pal.color(QPalette.ColorRole.Mid)
        if chip.state in STATE_COLOURS:
            c = QColor(STATE_COLOURS[chip.state])
            border, base = c, QColor(c.red(), c.green(), c.blue(), 55)
        if hover:
            base = base.lighter(108) if base.lightness() > 128 else base.lighter(125)
        focus = current and self.hasFocus()
        if current:
            border = pal.color(QPalette.ColorRole.Highlight)
        p.setBrush(base)
        p.setPen(QPen(border, 2.0 if focus or current else 1.0))
        p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
        struck = chip.state in ("rejected", "removed")
        font = QFont(self.font())
        font.setStrikeOut(struck)
        p.setFont(font)
        text = pal.color(QPalette.ColorRole.PlaceholderText if struck else QPalette.ColorRole.ButtonText)
        p.setPen(text)
        approve, reject = self.buttons(rect)
        room = approve.left() - r.x() - PAD - 3
        shown = self.fontMetrics().elidedText(chip.tag, Qt.TextElideMode.ElideRight, max(10, room))
        p.drawText(QRect(r.x() + PAD, r.y(), room, r.height()), Qt.AlignmentFlag.AlignVCenter, shown)
        # the score: a thin meter along the pill's bottom edge (its figure is in the tooltip)
        bar = QColor(pal.color(QPalette.ColorRole.Highlight))
        bar.setAlpha(110)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(bar)
        inset = r.height() // 2
        full = max(4, r.width() - 2 * inset)
        p.drawRect(QRect(r.x() + inset, r.bottom() - 2, max(2, round(full * min(1.0, chip.score))), 2))
        _paint_mark(p, approve, "approve", chip.state in KEEP_STATES)
        _paint_mark(p, reject, "reject", chip.state == "rejected")

    # -- mouse -------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        i = self._at(event.position().toPoint())
        self._press = (i, event.position().toPoint()) if i >= 0 else None
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        if self._press is not None and (pos - self._press[1]).manhattanLength() >= \
                QApplication.startDragDistance():
            self._drag_to = self.drop_index(pos)
            self.update()
            return
        hover = self._at(pos)
        if hover != self._hover:
            self._hover = hover
            self.update()
            self.hovered.emit(self.chips[hover].tag if hover >= 0 else "")

    def leaveEvent(self, event) -> None:
        if self._hover >= 0:
            self._hover = -1
            self.update()
            self.hovered.emit("")
        super().leaveEvent(event)

    def drop_index(self, pos: QPoint) -> int:
        """Where a chip dragged to `pos` goes (before the chip under it, or at the row's end)."""
        for i, r in enumerate(self._rects):
            if r.top() <= pos.y() <= r.bottom() + GAP and pos.x() < r.center().x():
                return i
        rows = [i for i, r in enumerate(self._rects) if r.top() <= pos.y() <= r.bottom() + GAP]
        return (rows[-1] + 1) if rows else len(self.chips)

    def mouseReleaseEvent(self, event) -> None:
        press, self._press = self._press, None
        pos = event.position().toPoint()
        if self._drag_to is not None and press is not None:
            to, self._drag_to = self._drag_to, None
            self._move(press[0], to - 1 if to > press[0] else to)
            self.update()
            return
        if press is None or event.button() != Qt.MouseButton.LeftButton:
            return
        i = press[0]
        approve, reject = self.buttons(self._rects[i])
        chip = self.chips[i]
        if approve.contains(pos):
            self.decide.emit(chip.tag, "remove" if chip.state in KEEP_STATES else "approve")
        elif reject.contains(pos):
            self.decide.emit(chip.tag, "remove" if chip.state == "rejected" else "reject")
        else:
            self.current = -1  # (so picking it again shows it again)
            self.set_current(i)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self._at(event.pos())
            if i >= 0:
                QToolTip.showText(event.globalPos(), self.tip(i), self, self._rects[i])
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    # -- keys --------------------------------------------------------------------------------
    def _row_neighbour(self, step: int) -> int:
        """The chip above/below the current one (nearest by x)."""
        if self.current < 0:
            return 0 if self.chips else -1
        cur = self._rects[self.current]
        rows = sorted({r.y() for r in self._rects})
        k = rows.index(cur.y()) + step
        if not 0 <= k < len(rows):
            return self.current
        cands = [i for i, r in enumerate(self._rects) if r.y() == rows[k]]
        return min(cands, key=lambda i: abs(self._rects[i].center().x() - cur.center().x()))

    def keyPressEvent(self, event) -> None:
        key, mods = event.key(), event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.nextPhoto.emit(-1 if mods & Qt.KeyboardModifier.ShiftModifier else 1)
        elif ctrl and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.move_current(-1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.chips:
            step = -1 if key == Qt.Key.Key_Left else 1
            self.set_current(min(len(self.chips) - 1, max(0, self.current + step)))
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.chips:
            self.set_current(self._row_neighbour(-1 if key == Qt.Key.Key_Up else 1))
        elif key in (Qt.Key.Key_Home, Qt.Key.Key_End) and self.chips:
            self.set_current(0 if key == Qt.Key.Key_Home else len(self.chips) - 1)
        elif key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete) and self.focused_tag():
            self.decide.emit(self.focused_tag(), "remove")
        elif key == Qt.Key.Key_Space and self.focused_tag():
            tag = self.focused_tag()
            self.decide.emit(tag, "remove" if self.state_of(tag) in KEEP_STATES else "approve")
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()


def _paint_mark(p: QPainter, box: QRect, kind: str, on: bool) -> None:
    """A ✓ or ✕ drawn as strokes in a circle (filled when that decision is made)."""
    colour = QColor("#2da44e" if kind == "approve" else "#cf222e")
    inner = box.adjusted(3, 3, -3, -3)
    if on:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawEllipse(inner)
    p.setBrush(Qt.BrushStyle.NoBrush)
    pen = QPen(QColor("white") if on else colour, 1.8)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    c, s = QPointF(inner.center()), inner.width() * 0.28
    path = QPainterPath()
    if kind == "approve":
        path.moveTo(c.x() - s, c.y())
        path.lineTo(c.x() - s * 0.25, c.y() + s * 0.75)
        path.lineTo(c.x() + s, c.y() - s * 0.7)
    else:
        path.moveTo(c.x() - s * 0.8, c.y() - s * 0.8)
        path.lineTo(c.x() + s * 0.8, c.y() + s * 0.8)
        path.moveTo(c.x() + s * 0.8, c.y() - s * 0.8)
        path.lineTo(c.x() - s * 0.8, c.y() + s * 0.8)
    p.drawPath(path)


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
