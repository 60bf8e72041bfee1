"""The photo grid: a list model of the batch's photos and an icon view with status badges."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from ..results import PhotoResult


class Status(StrEnum):
    QUEUED = "queued"
    TAGGING = "tagging"
    READY = "ready"
    APPROVED = "approved"
    ERROR = "error"


STATUS_COLOURS = {
    Status.QUEUED: "#7d8590",
    Status.TAGGING: "#d29922",
    Status.READY: "#2f81f7",
    Status.APPROVED: "#2da44e",
    Status.ERROR: "#cf222e",
}


@dataclass
class PhotoItem:
    """One photo of the current batch and everything the window knows about it."""

    path: Path
    status: Status = Status.QUEUED
    result: PhotoResult | None = None
    error: str | None = None
    thumb: QImage | None = None
    thumb_failed: bool = False
    caption: str | None = None  # the caption as shown (edited by the user, or the model's)
    edited: bool = False  # the user rewrote the model's caption
    decisions: dict[str, str] = field(default_factory=dict)  # tag -> state, from the library
    order: list[str] = field(default_factory=list)  # the user's chip order
    ranked_at: int = 0  # how many decisions the library had learned when its tags were ranked

    @property
    def name(self) -> str:
        return self.path.name

    def kept(self) -> list[str]:
        from ..export.instagram import kept_tags

        return kept_tags(self.decisions, self.order)


ItemRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2


class PhotoGridModel(QAbstractListModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.items: list[PhotoItem] = []
        self._rows: dict[Path, int] = {}

    # Qt API
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.items)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.items):
            return None
        it = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return it.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [str(it.path), f"Status: {it.status.value}"]
            if it.error:
                lines.append(it.error)
            elif it.caption:
                lines.append(it.caption)
            return "\n".join(lines)
        if role == ItemRole:
            return it
        if role == StatusRole:
            return it.status.value
        return None

    # batch
    def add_paths(self, paths) -> list[int]:
        """Append photos not already in the batch; returns the new rows."""
        new = []
        for p in paths:
            key = Path(p).absolute()
            if key not in self._rows:
                new.append(key)
        if not new:
            return []
        first = len(self.items)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for p in new:
            self._rows[p] = len(self.items)
            self.items.append(PhotoItem(p))
        self.endInsertRows()
        return list(range(first, first + len(new)))

    def row_of(self, path) -> int:
        return self._rows.get(Path(path).absolute(), -1)

    def item(self, row: int) -> PhotoItem | None:
        return self.items[row] if 0 <= row < len(self.items) else None

    def changed(self, row: int) -> None:
        if 0 <= row < len(self.items):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def remove_rows(self, rows) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self.items):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.items[row]
                self.endRemoveRows()
        self._rows = {it.path: i for i, it in enumerate(self.items)}

    def count(self, status: Status) -> int:
        return sum(1 for it in self.items if it.status == status)


CELL = QSize(176, 196)
THUMB_BOX = 160
THUMB_SIZE = QSize(THUMB_BOX, THUMB_BOX - 8)  # where a thumbnail is drawn, inside its cell


def fit_thumbnail(image: QImage) -> QImage:
    """The grid's thumbnail, scaled once (off the GUI thread) instead of on every repaint."""
    return image.scaled(THUMB_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


class PhotoDelegate(QStyledItemDelegate):
    """Thumbnail, file name, and a coloured status pill."""

    def sizeHint(self, option, index) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        it: PhotoItem = index.data(ItemRole)
        if it is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(4, 4, -4, -4)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight).lighter(100))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(r, 8, 8)
        box = QRect(r.x() + (r.width() - THUMB_BOX) // 2, r.y() + 4, *THUMB_SIZE.toTuple())
        if it.thumb is not None and not it.thumb.isNull():  # already scaled to fit (the worker)
            x = box.x() + (box.width() - it.thumb.width()) // 2
            y = box.y() + (box.height() - it.thumb.height()) // 2
            painter.drawImage(x, y, it.thumb)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             "can't preview" if it.thumb_failed else "…")
        # status pill, top-left over the thumbnail
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.8))
        font.setBold(True)
        painter.setFont(font)
        label = it.status.value
        fm = painter.fontMetrics()
        pill = QRect(box.x() + 4, box.y() + 4, fm.horizontalAdvance(label) + 12, fm.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STATUS_COLOURS[it.status]))
        painter.drawRoundedRect(pill, pill.height() / 2, pill.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, label)
        # file name
        painter.setFont(option.font)
        text_rect = QRect(r.x() + 4, box.bottom() + 4, r.width() - 8, r.bottom() - box.bottom() - 4)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(pal.color(role))
        name = painter.fontMetrics().elidedText(it.name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()


class PhotoGrid(QListView):
    """Icon view of the batch. Arrow keys move between photos (QListView's own navigation)."""

    currentRowChanged = Signal(int)

    def __init__(self, model: PhotoGridModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(PhotoDelegate(self))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setGridSize(CELL)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(False)
        self.setAcceptDrops(False)  # the window takes drops
        self.setMinimumWidth(CELL.width() + 30)
        self.selectionModel().currentRowChanged.connect(self._current_changed)

    def _current_changed(self, cur, _prev) -> None:
        self.currentRowChanged.emit(cur.row() if cur.isValid() else -1)

    def current_row(self) -> int:
        idx = self.currentIndex()
        return idx.row() if idx.isValid() else -1

    def selected_rows(self) -> list[int]:
        rows = sorted({i.row() for i in self.selectionModel().selectedIndexes()})
        if not rows and self.current_row() >= 0:
            rows = [self.current_row()]
        return rows

    def select_row(self, row: int) -> None:
        idx = self.model().index(row, 0)
        if idx.isValid():
            self.setCurrentIndex(idx)
            self.scrollTo(idx)


__all__ = ["PhotoGrid", "PhotoGridModel", "PhotoItem", "Status"]
