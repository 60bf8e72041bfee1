"""The photo grid: a list model of the batch's photos and an icon view with status badges."""

from __future__ import annotations

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

from ..session.photo import Photo, Status
from ..session.review import Review

STATUS_COLOURS = {
    Status.QUEUED: "#7d8590",
    Status.TAGGING: "#d29922",
    Status.READY: "#2f81f7",
    Status.APPROVED: "#2da44e",
    Status.ERROR: "#cf222e",
}

ItemRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2


class PhotoGridModel(QAbstractListModel):
    """A view of the review's photos (the controller owns the list) and their thumbnails."""

    thumbWanted = Signal(object)  # a Path whose thumbnail is about to be drawn: make it

    def __init__(self, review: Review, parent=None):
        super().__init__(parent)
        self.review = review
        self._count = 0  # rows announced to the views (photos are only appended between resets)
        self.thumbs: dict[Path, QImage] = {}
        self.no_thumb: set[Path] = set()
        self._asked: set[Path] = set()

    def need_thumb(self, path: Path) -> None:
        """Thumbnails are made when a cell is first drawn, not for the whole batch at once: a
        1,000-photo drop asks for the dozen on screen, not 1,000 decodes beside the tagging."""
        if path not in self._asked and path not in self.thumbs and path not in self.no_thumb:
            self._asked.add(path)
            self.thumbWanted.emit(path)

    @property
    def items(self) -> list[Photo]:
        return self.review.photos

    # Qt API
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._count

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= self._count:
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

    # what the review says
    def appended(self, first: int, count: int) -> None:
        self.beginInsertRows(QModelIndex(), first, first + count - 1)
        self._count = first + count
        self.endInsertRows()

    def reset(self) -> None:
        self.beginResetModel()
        self._count = len(self.items)
        alive = {p.path for p in self.items}
        self.thumbs = {k: v for k, v in self.thumbs.items() if k in alive}
        self.no_thumb &= alive
        self._asked &= alive
        self.endResetModel()

    def row_of(self, path) -> int:
        return self.review.row_of(path)

    def item(self, row: int) -> Photo | None:
        return self.review.photo(row) if row < self._count else None

    def changed(self, row: int) -> None:
        if 0 <= row < self._count:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def set_thumb(self, path: Path, image: QImage | None) -> None:
        if image is None:
            self.no_thumb.add(path)
        else:
            self.thumbs[path] = image
        self.changed(self.row_of(path))


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
        it: Photo = index.data(ItemRole)
        if it is None:
            return
        model = index.model()
        thumb = model.thumbs.get(it.path)
        if thumb is None:
            model.need_thumb(it.path)
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
        if thumb is not None and not thumb.isNull():  # already scaled to fit (the worker)
            x = box.x() + (box.width() - thumb.width()) // 2
            y = box.y() + (box.height() - thumb.height()) // 2
            painter.drawImage(x, y, thumb)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box, 6, 6)
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             "can't preview" if it.path in model.no_thumb else "…")
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
    nextRequested = Signal(int)  # Enter: +1, Shift+Enter: -1

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

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            back = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.nextRequested.emit(-1 if back else 1)
            return
        super().keyPressEvent(event)

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


__all__ = ["Photo", "PhotoGrid", "PhotoGridModel", "Status"]
