"""Persisted settings: a pure dataclass, loaded from and saved to QSettings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..export.xmp import SIDECAR_NAMES
from ..results import MAX_HASHTAGS

STYLES = ("joined", "underscored")
THEMES = ("system", "light", "dark")


@dataclass
class AppSettings:
    style: str = "joined"  # #teddybear or #teddy_bear
    top_k: int = MAX_HASHTAGS  # hashtags suggested per photo
    beam: int = 3  # beam width; 1 = greedy
    watched_folders: list[str] = field(default_factory=list)
    library_dir: str = ""  # "" = the default ($HASHLENS_HOME or the platform data dir)
    with_caption: bool = True  # a caption the user approved or wrote goes before the hashtags
    theme: str = "system"
    auto_approve: int = 0  # watched photos: approve suggestions scoring at least this %; 0 = off
    write_xmp: bool = False  # watched photos: write an XMP sidecar with the approved tags
    sidecar_name: str = "append"  # new sidecars: photo.jpg.xmp (darktable, digiKam) or photo.xmp

    def validated(self) -> AppSettings:
        """A copy with every value in range (settings files get hand-edited)."""
        return AppSettings(
            style=self.style if self.style in STYLES else "joined",
            top_k=min(MAX_HASHTAGS, max(1, int(self.top_k))),
            beam=min(10, max(1, int(self.beam))),
            watched_folders=[str(f) for f in self.watched_folders if str(f).strip()],
            library_dir=str(self.library_dir or ""),
            with_caption=bool(self.with_caption),
            theme=self.theme if self.theme in THEMES else "system",
            auto_approve=min(100, max(0, int(self.auto_approve))),
            write_xmp=bool(self.write_xmp),
            sidecar_name=self.sidecar_name if self.sidecar_name in SIDECAR_NAMES else "append",
        )


def _coerce(value, default):
    if isinstance(default, bool):
        return value in (True, "true", "True", "1", 1) if not isinstance(value, bool) else value
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return default
    if isinstance(default, list):
        if value in (None, ""):
            return []
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return str(value) if value is not None else default


class SettingsStore:
    """Reads and writes AppSettings in a QSettings (the platform's place, or a file in tests)."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings("hashlens", "hashlens")

    def load(self) -> AppSettings:
        base = AppSettings()
        values = {}
        for f in fields(AppSettings):
            default = getattr(base, f.name)
            values[f.name] = _coerce(self.q.value(f.name, default), default)
        return AppSettings(**values).validated()

    def save(self, s: AppSettings) -> None:
        for k, v in asdict(s.validated()).items():
            self.q.setValue(k, v)
        self.q.sync()


def default_library_text() -> str:
    """What an empty "Library folder" means: HASHLENS_HOME's folder when it is set (and says
    so), else the platform's data folder."""
    import os

    from ..paths import ENV_HOME, data_dir

    if os.environ.get(ENV_HOME):
        return f"{data_dir()} (from {ENV_HOME})"
    return f"{data_dir()} (the default)"


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        form = QFormLayout()
        self.style = QComboBox()
        self.style.addItem("#teddybear (joined)", "joined")
        self.style.addItem("#teddy_bear (underscored)", "underscored")
        self.style.setCurrentIndex(max(0, self.style.findData(settings.style)))
        form.addRow("Hashtag style", self.style)
        self.top_k = QSpinBox(minimum=1, maximum=MAX_HASHTAGS, value=settings.top_k)
        form.addRow("Hashtags per photo", self.top_k)
        self.beam = QSpinBox(minimum=1, maximum=10, value=settings.beam)
        self.beam.setToolTip("Captions searched in parallel: 1 is fastest, 3-5 gives better captions")
        form.addRow("Beam width", self.beam)
        self.with_caption = QCheckBox("Put a caption you approved or wrote before the hashtags")
        self.with_caption.setToolTip("The model's own caption never goes in a post until you approve "
                                     "it (or write your own) in the post panel")
        self.with_caption.setChecked(settings.with_caption)
        form.addRow("Copy for Instagram", self.with_caption)
        self.theme = QComboBox()
        for t in THEMES:
            self.theme.addItem(t.capitalize() if t != "system" else "Follow the system", t)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        form.addRow("Theme", self.theme)

        lib_row = QHBoxLayout()
        self.library_dir = QLineEdit(settings.library_dir)
        self.library_dir.setPlaceholderText(default_library_text())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_library)
        lib_row.addWidget(self.library_dir)
        lib_row.addWidget(browse)
        form.addRow("Library folder", lib_row)

        self.folders = QListWidget()
        self.folders.addItems(settings.watched_folders)
        self.folders.setMaximumHeight(90)
        fbtn = QHBoxLayout()
        add, rem = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        rem.clicked.connect(self._remove_folders)
        fbtn.addWidget(add)
        fbtn.addWidget(rem)
        fbtn.addStretch()
        box = QVBoxLayout()
        box.addWidget(self.folders)
        box.addLayout(fbtn)
        form.addRow("Watched folders", box)
        self.auto_approve = QSpinBox(minimum=0, maximum=100, value=settings.auto_approve, suffix=" %")
        self.auto_approve.setSpecialValueText("off")
        self.auto_approve.setToolTip("Approve a watched photo's hashtags that score at least this")
        form.addRow("Auto-approve above", self.auto_approve)
        self.write_xmp = QCheckBox("Write an XMP sidecar with the approved hashtags")
        self.write_xmp.setChecked(settings.write_xmp)
        form.addRow("Watched photos", self.write_xmp)
        self.sidecar_name = QComboBox()
        self.sidecar_name.addItem("photo.jpg.xmp (darktable, digiKam)", "append")
        self.sidecar_name.addItem("photo.xmp (Lightroom)", "replace")
        self.sidecar_name.setCurrentIndex(max(0, self.sidecar_name.findData(settings.sidecar_name)))
        self.sidecar_name.setToolTip("The name of a new XMP sidecar; an existing one is updated "
                                     "under either name")
        form.addRow("New sidecars", self.sidecar_name)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        outer.addWidget(buttons)

    def _browse_library(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Library folder", self.library_dir.text())
        if d:
            self.library_dir.setText(d)

    def _remove_folders(self) -> None:
        for i in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(i))

    def _add_folder(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Watch folder")
        if d:
            self.folders.addItem(d)

    def value(self) -> AppSettings:
        return AppSettings(
            style=self.style.currentData(),
            top_k=self.top_k.value(),
            beam=self.beam.value(),
            watched_folders=[self.folders.item(i).text() for i in range(self.folders.count())],
            library_dir=self.library_dir.text().strip(),
            with_caption=self.with_caption.isChecked(),
            theme=self.theme.currentData(),
            auto_approve=self.auto_approve.value(),
            write_xmp=self.write_xmp.isChecked(),
            sidecar_name=self.sidecar_name.currentData(),
        ).validated()
