"""The photo, fitted to its widget, with one word's attention as a heat map: its peak marked,
the colour scale beside it, and the detector boxes of the hashtag or word in view outlined."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..session.tasks import SyncRunner, TaskRunner
from .overlay import HEAT, attention_overlay, box_in, peak_point, to_qimage

log = logging.getLogger(__name__)

BOX_COLOUR = "#00e5ff"  # cyan: apart from the heat scale's purples, reds and yellows


@dataclass(frozen=True)
class Outline:
    """A detector box to outline: (x0, y0, x1, y1) fractions of the photo, and its label."""

    box: tuple[float, float, float, float]
    label: str


@dataclass(frozen=True)
class Display:
    """A photo ready to show: the display copy and its QImage (both made in a worker)."""

    photo: Image.Image
    image: QImage


def make_display(photo: Image.Image) -> Display:
    return Display(photo, to_qimage(photo))


class PhotoCanvas(QWidget):
    """The photo, or its attention composite for one word, with the marks drawn over it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.photo: Image.Image | None = None
        self.shown: QImage | None = None
        self.message = ""
        self.weights: np.ndarray | None = None
        self.peak: tuple[float, float] | None = None
        self.boxes: list[Outline] = []
        self._small: Image.Image | None = None  # the photo at the size it is drawn
        self._pending: object | None = None  # the overlay being made (older ones are dropped)
        self._plain: QImage | None = None  # the photo without overlay
        self.runner: TaskRunner = SyncRunner()  # the window gives its own
        self._resized = QTimer(self, singleShot=True, interval=60)
        self._resized.timeout.connect(self._compose)
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_photo(self, img: Display | Image.Image | None, message: str = "") -> None:
        """The photo to show: a Display (its QImage made in a worker), or a PIL image."""
        if isinstance(img, Image.Image):
            img = make_display(img)
        self.photo = img.photo if img is not None else None
        self._plain = img.image if img is not None else None
        self.message, self.weights, self.peak, self.boxes = message, None, None, []
        self._small = None
        self.shown = self._plain
        self.update()

    def set_weights(self, weights: np.ndarray | None) -> None:
        """Overlay one word's attention grid (None: the plain photo)."""
        self.weights = weights
        self.peak = peak_point(weights) if weights is not None else None
        self._compose()

    def _compose(self) -> None:
        """The heat map is made in a worker (the window's runner), at the size the photo is
        drawn, not at the display copy's 1400 px: the GUI thread only swaps the image in."""
        if self.photo is None:
            return
        if self.weights is None:
            self._pending = None
            self.shown = self._plain
            self.update()
            return
        photo, weights, size, token = self.photo, self.weights, self._target_size(), object()
        small = self._small
        self._pending = token

        def make() -> tuple[Image.Image, QImage]:
            fitted = small if small is not None and small.size == size else (
                photo if size == photo.size else photo.resize(size, Image.Resampling.BILINEAR))
            return fitted, to_qimage(attention_overlay(fitted, weights))

        def done(made: tuple[Image.Image, QImage]) -> None:
            if self._pending is token and self.photo is photo:
                self._small, self.shown = made
                self.update()

        self.runner.run_task(make, done, lambda exc: log.warning("attention overlay failed: %s", exc),
                             priority=20)

    def _target_size(self) -> tuple[int, int]:
        ratio = self.devicePixelRatioF() if self.isVisible() else 1.0
        w, h = max(1, int(self.width() * ratio)), max(1, int(self.height() * ratio))
        scale = min(1.0, w / self.photo.width, h / self.photo.height)
        return max(1, round(self.photo.width * scale)), max(1, round(self.photo.height * scale))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.weights is not None:
            self._resized.start()  # once the resizing stops

    def set_boxes(self, boxes: list[Outline]) -> None:
        self.boxes = list(boxes)
        self.update()

    def image_rect(self) -> QRect:
        if self.shown is None:
            return QRect()
        s = self.shown.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect((self.width() - s.width()) // 2, (self.height() - s.height()) // 2, s.width(), s.height())

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.shown is None:
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.rect().adjusted(12, 12, -12, -12),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            p.end()
            return
        r = self.image_rect()
        p.drawImage(r, self.shown)
        for outline in self.boxes:
            self._paint_box(p, r, outline)
        if self.peak is not None:
            self._paint_peak(p, r)
        if self.weights is not None and self.peak is not None:
            self._paint_scale(p, r)
        p.end()

    def _paint_box(self, p: QPainter, r: QRect, outline: Outline) -> None:
        x, y, w, h = box_in((r.x(), r.y(), r.width(), r.height()), outline.box)
        rect = QRectF(x, y, w, h)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(0, 0, 0, 160), 5))
        p.drawRect(rect)
        p.setPen(QPen(QColor(BOX_COLOUR), 2.5))
        p.drawRect(rect)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        fm = p.fontMetrics()
        tag = QRectF(x, max(r.y(), y - fm.height() - 4), fm.horizontalAdvance(outline.label) + 10, fm.height() + 4)
        p.fillRect(tag, QColor(BOX_COLOUR))
        p.setPen(QColor("black"))
        p.drawText(tag, Qt.AlignmentFlag.AlignCenter, outline.label)

    def _paint_peak(self, p: QPainter, r: QRect) -> None:
        c = QPointF(r.x() + self.peak[0] * r.width(), r.y() + self.peak[1] * r.height())
        radius = max(8.0, min(r.width(), r.height()) * 0.035)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for colour, width in ((QColor(0, 0, 0, 190), 4.5), (QColor("white"), 2.0)):
            p.setPen(QPen(colour, width))
            p.drawEllipse(c, radius, radius)
            p.drawLine(QPointF(c.x() - radius * 1.7, c.y()), QPointF(c.x() - radius * 0.6, c.y()))
            p.drawLine(QPointF(c.x() + radius * 0.6, c.y()), QPointF(c.x() + radius * 1.7, c.y()))
            p.drawLine(QPointF(c.x(), c.y() - radius * 1.7), QPointF(c.x(), c.y() - radius * 0.6))
            p.drawLine(QPointF(c.x(), c.y() + radius * 0.6), QPointF(c.x(), c.y() + radius * 1.7))

    def _paint_scale(self, p: QPainter, r: QRect) -> None:
        """The colour scale in the photo's bottom-left corner: "less … more attention"."""
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = p.fontMetrics()
        bar_w, bar_h, pad = min(140, r.width() // 3), 8, 6
        left, right = "less", "more attention"
        w = fm.horizontalAdvance(left) + bar_w + fm.horizontalAdvance(right) + 4 * pad
        box = QRectF(r.x() + 8, r.bottom() - fm.height() - 2 * pad - 6, w, fm.height() + 2 * pad)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 4, 4)
        p.setPen(QColor("white"))
        x = box.x() + pad
        p.drawText(QRectF(x, box.y(), fm.horizontalAdvance(left), box.height()), Qt.AlignmentFlag.AlignVCenter, left)
        x += fm.horizontalAdvance(left) + pad
        grad = QLinearGradient(x, 0, x + bar_w, 0)
        for at, (red, green, blue) in HEAT:
            grad.setColorAt(at, QColor(red, green, blue))
        p.fillRect(QRectF(x, box.center().y() - bar_h / 2, bar_w, bar_h), grad)
        x += bar_w + pad
        p.drawText(QRectF(x, box.y(), fm.horizontalAdvance(right) + 2, box.height()),
                   Qt.AlignmentFlag.AlignVCenter, right)

    def sizeHint(self) -> QSize:
        return QSize(640, 420)
