"""The library view: tags ranked by preference with counts; blocklist, synonyms, always-add.

What it shows is read in a worker (`runner`, the window's): the preferences build the habit
models and the stats count every reviewed photo, too slow for the GUI thread on a big library."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import HashlensError
from ..session.tasks import SyncRunner, TaskRunner

# (header, tooltip): short headers leave room for what the library learned
PREF_COLUMNS = (
    ("Hashtag", ""),
    ("Liked %", "Recency-weighted share of photos where you kept this tag (50: no evidence)"),
    ("✓", "Photos where you approved it"),
    ("✕", "Photos where you rejected it"),
    ("+", "Photos you added it to by hand"),
    ("−", "Photos you removed it from after keeping it"),
    ("On photos with", "What the tag detector sees in the photos you keep this tag on: "
                       "learned from your decisions, it is why the tag is suggested where it is"),
)


def _num(value: int | float) -> QStandardItem:
    it = QStandardItem()
    it.setData(value, Qt.ItemDataRole.DisplayRole)
    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    it.setEditable(False)
    return it


class _RuleList(QGroupBox):
    """A list of tags with an entry, Add and Remove."""

    def __init__(self, title: str, hint: str, placeholder: str, parent=None):
        super().__init__(title, parent)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.entry = QLineEdit(placeholderText=placeholder)
        self.add = QPushButton("Add")
        self.remove = QPushButton("Remove")
        row = QHBoxLayout()
        row.addWidget(self.entry, 1)
        row.addWidget(self.add)
        row.addWidget(self.remove)
        lay = QVBoxLayout(self)
        note = QLabel(hint)
        note.setWordWrap(True)
        lay.addWidget(note)
        lay.addWidget(self.list)
        lay.addLayout(row)


class LibraryView(QWidget):
    """Reads and edits a TagLibrary. `normalize` turns typed text into a '#tag' or None."""

    changed = Signal()  # rules changed: suggestions may rank differently now

    def __init__(self, normalize: Callable[[str], str | None], parent=None):
        super().__init__(parent)
        self.library = None
        self.normalize = normalize
        self.runner: TaskRunner = SyncRunner()  # the window gives its own
        self._asked = 0  # reads asked for: only the latest one is shown
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.error = QLabel()
        self.error.setStyleSheet("color: #cf222e")
        self.error.setWordWrap(True)
        self.error.hide()
        split = QSplitter()
        split.addWidget(self._build_table())
        split.addWidget(self._build_rules())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.addWidget(self.stats)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)

    def _build_table(self) -> QWidget:
        self.prefs = QStandardItemModel(0, len(PREF_COLUMNS), self)
        for col, (title, tip) in enumerate(PREF_COLUMNS):
            head = QStandardItem(title)
            head.setToolTip(tip)
            self.prefs.setHorizontalHeaderItem(col, head)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.prefs)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.horizontalHeader().setSortIndicatorClearable(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(PREF_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.filter = QLineEdit(placeholderText="Filter hashtags…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        block_sel = QPushButton("Block selected")
        block_sel.clicked.connect(self._block_selected)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(block_sel)
        top.addWidget(refresh)
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(QLabel("<b>Your hashtags</b>, the ones you keep most first"))
        ll.addLayout(top)
        ll.addWidget(self.table)
        return left

    def _build_rules(self) -> QWidget:
        self.blocked = _RuleList("Blocklist", "Never suggested.", "#tag to block")
        self.blocked.add.clicked.connect(lambda *_: self._rule_add(self.blocked, "block"))
        self.blocked.entry.returnPressed.connect(lambda *_: self._rule_add(self.blocked, "block"))
        self.blocked.remove.clicked.connect(lambda *_: self._rule_remove(self.blocked, "unblock"))
        self.always = _RuleList("Always add", "Suggested first on every photo.", "#tag to always add")
        self.always.add.clicked.connect(lambda *_: self._rule_add(self.always, "add_always"))
        self.always.entry.returnPressed.connect(lambda *_: self._rule_add(self.always, "add_always"))
        self.always.remove.clicked.connect(lambda *_: self._rule_remove(self.always, "remove_always"))

        syn = QGroupBox("Synonyms")
        self.synonyms = QTableWidget(0, 2)
        self.synonyms.setHorizontalHeaderLabels(["Alias", "Counts as"])
        self.synonyms.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.synonyms.verticalHeader().hide()
        self.synonyms.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.synonyms.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.alias = QLineEdit(placeholderText="#puppy")
        self.canonical = QLineEdit(placeholderText="#dog")
        self.canonical.returnPressed.connect(self._syn_add)
        sadd, srem = QPushButton("Add"), QPushButton("Remove")
        sadd.clicked.connect(self._syn_add)
        srem.clicked.connect(self._syn_remove)
        srow = QHBoxLayout()
        srow.addWidget(self.alias)
        srow.addWidget(QLabel("→"))
        srow.addWidget(self.canonical)
        srow.addWidget(sadd)
        srow.addWidget(srem)
        sl = QVBoxLayout(syn)
        note = QLabel("An alias is suggested and counted as its hashtag.")
        note.setWordWrap(True)
        sl.addWidget(note)
        sl.addWidget(self.synonyms)
        sl.addLayout(srow)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.blocked)
        rl.addWidget(syn)
        rl.addWidget(self.always)
        return right

    # -- reading -------------------------------------------------------------------------
    def set_library(self, library) -> None:
        self.library = library
        self.refresh()

    def _fail(self, exc: Exception) -> None:
        self.error.setText(f"⚠ {exc}")
        self.error.show()

    def refresh(self) -> None:
        """Read the library again (in a worker) and show it."""
        lib = self.library
        self.error.hide()
        if lib is None:
            self.stats.setText("The tag library is not open.")
            return
        self._asked += 1
        asked = self._asked

        def done(found) -> None:
            if asked == self._asked and lib is self.library:
                self._show(*found)

        def failed(exc: BaseException) -> None:
            if asked == self._asked:
                self._fail(exc)

        self.runner.run_task(lambda: (lib.tag_preferences(), lib.rules(), lib.stats()), done, failed)

    def _show(self, prefs, rules: dict, st: dict) -> None:
        self.stats.setText(
            f"<b>{st.get('photos', 0)}</b> photos, <b>{st.get('photos_reviewed', 0)}</b> reviewed, "
            f"<b>{st.get('decisions', 0)}</b> decisions on <b>{st.get('tags', 0)}</b> hashtags "
            f"<span style='color:gray'>— {st.get('path', '')}</span>")
        self.prefs.setRowCount(0)
        for p in prefs:
            tag = QStandardItem(p.tag)
            tag.setEditable(False)
            pct = _num(round(p.score * 100))
            when = QStandardItem(", ".join(p.when))
            when.setEditable(False)
            self.prefs.appendRow([tag, pct, _num(p.approvals), _num(p.rejections), _num(p.adds),
                                  _num(p.removals), when])
        self.blocked.list.clear()
        self.blocked.list.addItems(list(rules.get("blocked", [])))
        self.always.list.clear()
        self.always.list.addItems(list(rules.get("always", [])))
        syn = rules.get("synonyms", {})
        self.synonyms.setRowCount(len(syn))
        for r, (alias, canon) in enumerate(syn.items()):
            self.synonyms.setItem(r, 0, QTableWidgetItem(alias))
            self.synonyms.setItem(r, 1, QTableWidgetItem(canon))

    # -- editing -------------------------------------------------------------------------
    def _apply(self, action: Callable[[], None]) -> bool:
        if self.library is None:
            self._fail(HashlensError("the tag library is not open"))
            return False
        try:
            action()
        except (HashlensError, ValueError) as exc:
            self._fail(exc)
            return False
        self.refresh()
        self.changed.emit()
        return True

    def _tag(self, text: str) -> str | None:
        tag = self.normalize(text)
        if tag is None and text.strip():
            self._fail(HashlensError(f"{text.strip()!r} is not a valid hashtag (letters, digits and _ only)"))
        return tag

    def _rule_add(self, box: _RuleList, method: str) -> None:
        tag = self._tag(box.entry.text())
        if tag and self._apply(lambda: getattr(self.library, method)(tag)):
            box.entry.clear()

    def _rule_remove(self, box: _RuleList, method: str) -> None:
        tags = [i.text() for i in box.list.selectedItems()]
        if tags:
            self._apply(lambda: [getattr(self.library, method)(t) for t in tags])

    def _block_selected(self) -> None:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        tags = [self.proxy.index(r, 0).data() for r in rows]
        if tags:
            self._apply(lambda: [self.library.block(t) for t in tags])

    def _syn_add(self) -> None:
        alias, canon = self._tag(self.alias.text()), self._tag(self.canonical.text())
        if alias and canon and self._apply(lambda: self.library.add_synonym(alias, canon)):
            self.alias.clear()
            self.canonical.clear()

    def _syn_remove(self) -> None:
        rows = sorted({i.row() for i in self.synonyms.selectedIndexes()})
        aliases = [self.synonyms.item(r, 0).text() for r in rows if self.synonyms.item(r, 0)]
        if aliases:
            self._apply(lambda: [self.library.remove_synonym(a) for a in aliases])
