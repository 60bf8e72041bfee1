"""Small widgets of the main window: the banner, the empty state, the status line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

BANNER_COLOURS = {"error": ("#ffebe9", "#82071e"), "warning": ("#fff8c5", "#6c4a00"),
                  "info": ("#ddf4ff", "#0a3069")}


class Banner(QFrame):
    """A dismissible message across the top of the window (errors never become dialogs)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TitleBarCloseButton))
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        bg, fg = BANNER_COLOURS.get(kind, BANNER_COLOURS["error" if kind == "model" else "info"])
        self.kind = kind
        self.setStyleSheet(f"Banner {{ background: {bg}; border-bottom: 1px solid {fg}; }}"
                           f" QLabel {{ color: {fg}; }} QToolButton {{ color: {fg}; }}")
        self.label.setText(text)
        self.show()


class EmptyState(QWidget):
    """What an empty batch shows: where to drop photos, and the folders opened recently."""

    def __init__(self, on_open_files: Callable[[], None], on_open_folder: Callable[[], None],
                 on_recent: Callable[[str], None], parent=None):
        super().__init__(parent)
        self.on_recent = on_recent
        title = QLabel("Drop photos or folders here")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 2.0)
        f.setBold(True)
        title.setFont(f)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "hashlens writes a caption for each photo, suggests Instagram hashtags from it, "
            "and shows where the model looked for each word.<br>"
            "Approve (A) or reject (R) the hashtags and it learns which ones you like.<br><br>"
            "Or use <b>File › Open photos…</b> (Ctrl+O). Everything stays on this computer.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMinimumWidth(420)
        text.setMaximumWidth(560)
        b1, b2 = QPushButton("Open photos…"), QPushButton("Open folder…")
        b1.clicked.connect(on_open_files)
        b2.clicked.connect(on_open_folder)
        b1.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(b1)
        buttons.addWidget(b2)
        buttons.addStretch()
        self.recent = QLabel()
        self.recent.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.recent.linkActivated.connect(self._open_recent)
        self._recent: list[str] = []
        frame = QFrame()
        frame.setObjectName("dropZone")
        frame.setStyleSheet("#dropZone { border: 2px dashed palette(mid); border-radius: 16px; }")
        fl = QVBoxLayout(frame)
        fl.setContentsMargins(40, 32, 40, 32)
        icon = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon).pixmap(48, 48))
        fl.addWidget(icon)
        fl.addWidget(title)
        fl.addSpacing(8)
        fl.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        fl.addSpacing(16)
        fl.addLayout(buttons)
        fl.addSpacing(8)
        fl.addWidget(self.recent)
        lay = QVBoxLayout(self)
        lay.addStretch()
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(frame)
        row.addStretch()
        lay.addLayout(row)
        lay.addStretch()

    def set_recent(self, folders: list[str]) -> None:
        import html
        from pathlib import Path

        self._recent = list(folders[:5])
        if not self._recent:
            self.recent.setText("")
            return
        links = " · ".join(f'<a href="{i}">{html.escape(Path(f).name or f)}</a>'
                           for i, f in enumerate(self._recent))
        self.recent.setText(f"Recent folders: {links}")
        self.recent.setToolTip("\n".join(self._recent))

    def _open_recent(self, href: str) -> None:
        self.on_recent(self._recent[int(href)])


class StatusLine(QLabel):
    """The status bar's message: elided to the room it has (never cut by the permanent widgets),
    the whole text in its tooltip, cleared after a while."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(80)
        self.full = ""
        self._clear = QTimer(self, singleShot=True)
        self._clear.timeout.connect(self.clear_message)

    def show_message(self, text: str, ms: int = 6000) -> None:
        self.full = text
        self.setToolTip(text)
        self._elide()
        if ms > 0:
            self._clear.start(ms)

    def clear_message(self) -> None:
        self.full = ""
        self.setToolTip("")
        self.setText("")

    def _elide(self) -> None:
        width = max(10, self.width() - 4)
        self.setText(self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def fits(self) -> bool:
        """Whether the whole message shows (no ellipsis)."""
        return self.text() == self.full
