"""The item browser: a sortable, filterable table; its selection drives every other view."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models import ScoreBoard, Selection, Session
from avr_studio.models.rows import OUTCOMES, ItemRow, RowFilter, build_row
from avr_studio.palette import KIND_COLOURS

COLUMNS = ("index", "category", "modality", "question", "GT", "pred", "|error|", "WCS", "IFA fail")
#: The compare view's columns: both runs' count and WCS, and B - A.
#: (The question is in the compare panel's title; here it would only be a sliver.)
COMPARE_COLUMNS = ("index", "category", "GT", "A pred", "B pred", "A WCS", "B WCS", "WCS B-A")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
TEXT_COLUMNS = ("question", "category", "modality")
HEADER_TIPS = {
    "index": "item index", "category": "event, object or attribute", "modality": "A audio, V visual, AV both",
    "GT": "GT count", "pred": "the run's count (long protocol, else ref)",
    "|error|": "|pred - GT|", "WCS": "the item's WCS % (what-if edits included)",
    "IFA fail": "the clue answer could not be read (instruction-following failure)",
    "A pred": "run A's count", "B pred": "run B's count", "A WCS": "run A's item WCS %",
    "B WCS": "run B's item WCS %", "WCS B-A": "B's item WCS minus A's",
}
#: Short header texts (the full meaning is the header's tooltip): the table fits the default width.
HEADER_TEXT = {"index": "#", "category": "cat.", "modality": "mod.", "|error|": "|err|", "IFA fail": "IFA",
               "A pred": "A", "B pred": "B", "WCS B-A": "ΔWCS"}
CATEGORY_SHORT = {"attribute": "attr."}
#: Short modality names: the column stays narrow (the full name is the tooltip).
MODALITY_SHORT = {"audio": "A", "visual": "V", "audio-visual": "AV"}


def _fmt_number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:.{digits}f}" if digits else f"{value:g}"


class ItemTableModel(QAbstractTableModel):
    """Rows from `build_row`; rebuilt when the dataset, runs, active run or edits change."""

    def __init__(self, session: Session, selection: Selection, scores: ScoreBoard, parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.scores = session, selection, scores
        self.rows: list[ItemRow] = []
        self.columns: tuple[str, ...] = COLUMNS
        session.dataset_changed.connect(self.rebuild)
        session.runs_changed.connect(self.rebuild)
        selection.run_changed.connect(lambda _name: self.rebuild())
        selection.compare_mode_changed.connect(lambda _on: self.rebuild())
        scores.changed.connect(self._on_score_changed)

    def rebuild(self) -> None:
        run = self.session.run(self.selection.run_name)
        other = self.session.run(self.selection.compare_name)
        self.beginResetModel()
        self.columns = COMPARE_COLUMNS if self.selection.compare_mode else COLUMNS
        self.rows = [build_row(item, run, other, self.scores) for item in self.session.items]
        self.endResetModel()

    def _on_score_changed(self, run: str, index: int) -> None:
        for position, row in enumerate(self.rows):
            if row.index == index:
                item = self.session.item(index)
                active = self.session.run(self.selection.run_name)
                other = self.session.run(self.selection.compare_name)
                self.rows[position] = build_row(item, active, other, self.scores)
                self.dataChanged.emit(self.index(position, 0), self.index(position, len(self.columns) - 1))
                return

    def row_of(self, index: int) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.index == index), None)

    # ---- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or section >= len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADER_TEXT.get(self.columns[section], self.columns[section])
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(self.columns[section])
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in ("question", "modality"):
            return row.question if column == "question" else row.modality
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column not in TEXT_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: ItemRow, column: str) -> str:
        return {
            "index": str(row.index),
            "category": CATEGORY_SHORT.get(row.category, row.category),
            "modality": MODALITY_SHORT.get(row.modality, row.modality),
            "question": row.question,
            "GT": str(row.gt),
            "pred": "fail" if row.count_failure else _fmt_number(row.pred),
            "|error|": _fmt_number(row.abs_error),
            "WCS": _fmt_number(row.wcs, 1),
            "IFA fail": "" if row.ifa_failure is None else ("yes" if row.ifa_failure else "no"),
            "A pred": "fail" if row.count_failure else _fmt_number(row.pred),
            "B pred": "fail" if row.b_count_failure else _fmt_number(row.b_pred),
            "A WCS": _fmt_number(row.wcs, 1),
            "B WCS": _fmt_number(row.b_wcs, 1),
            "WCS B-A": "" if row.wcs_difference is None else f"{row.wcs_difference:+.1f}",
        }[column]

    @staticmethod
    def _sort_key(row: ItemRow, column: str):
        value = {
            "index": row.index,
            "category": row.category,
            "modality": row.modality,
            "question": row.question.lower(),
            "GT": row.gt,
            "pred": row.pred,
            "|error|": row.abs_error,
            "WCS": row.wcs,
            "IFA fail": None if row.ifa_failure is None else int(row.ifa_failure),
            "A pred": row.pred,
            "B pred": row.b_pred,
            "A WCS": row.wcs,
            "B WCS": row.b_wcs,
            "WCS B-A": row.wcs_difference,
        }[column]
        return -1e9 if value is None else value  # missing sorts first

    @staticmethod
    def _colour(row: ItemRow, column: str):
        correct = row.b_correct if column == "B pred" else row.correct
        if column in ("pred", "A pred", "B pred") and correct is not None:
            return QColor(KIND_COLOURS["matched"] if correct else KIND_COLOURS["missed"])
        if column == "IFA fail" and row.ifa_failure:
            return QColor(KIND_COLOURS["missed"])
        return None


class ItemFilterProxy(QSortFilterProxyModel):
    """Filters with a `RowFilter` (pure, tested without Qt) and sorts by each column's sort key."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.row_filter = RowFilter()
        self.setSortRole(SORT_ROLE)

    def set_filter(self, row_filter: RowFilter) -> None:
        self.row_filter = row_filter
        self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        model: ItemTableModel = self.sourceModel()
        return self.row_filter.accepts(model.rows[source_row])


class Browser(QWidget):
    """Filter bar + table. Selecting a row writes the item to the Selection model."""

    filter_changed = Signal()  # the shown items changed (filter or runs)

    def __init__(self, session: Session, selection: Selection, scores: ScoreBoard, parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection = session, selection
        self.model = ItemTableModel(session, selection, scores, self)
        self.proxy = ItemFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._build()
        session.dataset_changed.connect(self._refill_choices)
        session.runs_changed.connect(self._refill_runs)
        selection.item_changed.connect(self._show_selected)
        selection.run_changed.connect(self._sync_run_boxes)
        selection.compare_changed.connect(self._on_compare_changed)
        selection.compare_mode_changed.connect(self._show_compare_mode)
        self.model.modelReset.connect(lambda: self._show_selected(self.selection.item_index))

    def _build(self) -> None:
        self.category = QComboBox()
        self.category.addItems(["all", "event", "object", "attribute"])
        self.modality = QComboBox()
        self.modality.addItem("all")
        self.outcome = QComboBox()
        self.outcome.addItems(list(OUTCOMES))
        self.search = QLineEdit()
        self.search.setPlaceholderText("search question or index")
        self.search.setClearButtonEnabled(True)
        self.run_box = QComboBox()
        self.run_box.setToolTip("run A: shown in the table, overlays and WCS panel (editable)")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("run B: compared with A (compare view, 'disagree' filters); "
                                    "picking A's run here swaps A and B")
        for combo in (self.run_box, self.compare_box):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)
        self.swap_button = QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("swap runs A and B")
        self.swap_button.clicked.connect(self.selection.swap_runs)
        self.compare_button = QToolButton()
        self.compare_button.setText("Compare A|B")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip("compare view: both runs on the frame, timeline, WCS panel and table")
        self.compare_button.toggled.connect(self.selection.set_compare_mode)
        for combo in (self.category, self.modality, self.outcome):
            combo.currentTextChanged.connect(self._apply_filter)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(4)
        self.search.textChanged.connect(self._apply_filter)
        self.run_box.currentTextChanged.connect(self._on_run_chosen)
        self.compare_box.currentTextChanged.connect(self._on_compare_chosen)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.model.modelReset.connect(self._size_columns)
        self._size_columns()
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.count_label = QLabel()
        self.only_button = QToolButton()
        self.only_button.setToolTip("showing only the items picked elsewhere (error totals, a tag): click to show all")
        self.only_button.clicked.connect(lambda: self.show_only(None))
        self.only_button.hide()
        self._only: frozenset[int] | None = None

        runs_bar, filter_bar = QHBoxLayout(), QHBoxLayout()
        for bar, pairs in (
            (runs_bar, (("A", self.run_box), ("B", self.compare_box))),
            (filter_bar, (("category", self.category), ("modality", self.modality), ("show", self.outcome))),
        ):
            for label, widget in pairs:
                bar.addWidget(QLabel(label))
                bar.addWidget(widget, 1)
        runs_bar.insertWidget(2, self.swap_button)
        runs_bar.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(runs_bar)
        layout.addLayout(filter_bar)
        search_bar = QHBoxLayout()
        search_bar.addWidget(self.search, 1)
        search_bar.addWidget(self.only_button)
        search_bar.addWidget(self.count_label)
        layout.addLayout(search_bar)
        layout.addWidget(self.table)

    def _size_columns(self) -> None:
        """Every column sized to its contents; the question takes what is left (elided), so the
        number columns are on screen at the default size."""
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(28)
        header.setStretchLastSection(False)
        stretch = "question" if "question" in self.model.columns else "WCS B-A"
        for column, name in enumerate(self.model.columns):
            mode = QHeaderView.ResizeMode.Stretch if name == stretch else QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(column, mode)

    # ---- model -> view -------------------------------------------------------------------
    def _refill_choices(self) -> None:
        self.modality.blockSignals(True)
        self.modality.clear()
        self.modality.addItems(["all", *self.session.modalities])
        self.modality.blockSignals(False)
        self._apply_filter()

    def _refill_runs(self) -> None:
        names = [run.name for run in self.session.runs]
        for combo in (self.run_box, self.compare_box):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names or [""])
            combo.blockSignals(False)
        if self.selection.run_name not in names:
            self.selection.select_run(names[0] if names else None)
        if self.selection.compare_name not in names:
            others = [n for n in names if n != self.selection.run_name]
            self.selection.select_compare(others[0] if others else None)
        self._sync_run_boxes()
        self.model.rebuild()
        self._update_count()

    def _sync_run_boxes(self, *_args) -> None:
        """The pickers show the Selection's runs A and B (never the same: see Selection)."""
        for combo, name in ((self.run_box, self.selection.run_name), (self.compare_box, self.selection.compare_name)):
            combo.blockSignals(True)
            combo.setCurrentText(name or "")
            combo.blockSignals(False)

    def _show_selected(self, index: int | None) -> None:
        source_row = self.model.row_of(index) if index is not None else None
        if source_row is None:
            return
        proxy_index = self.proxy.mapFromSource(self.model.index(source_row, 0))
        current = self.table.currentIndex()
        if proxy_index.isValid() and (current.row() != proxy_index.row() or not self.table.selectionModel().isSelected(current)):
            self.table.setCurrentIndex(proxy_index)
            self.table.scrollTo(proxy_index)

    # ---- user -> model -------------------------------------------------------------------
    def _apply_filter(self, *_args) -> None:
        self.proxy.set_filter(
            RowFilter(self.category.currentText(), self.modality.currentText() or "all",
                      self.outcome.currentText(), self.search.text(), self._only)
        )
        self._update_count()
        self.filter_changed.emit()

    def show_only(self, indices, label: str = "") -> None:
        """Restrict the table to these items (None: lift the restriction), on top of the filter bar."""
        self._only = frozenset(indices) if indices is not None else None
        self.only_button.setText(f"only: {label} ✕")
        self.only_button.setVisible(self._only is not None)
        self._apply_filter()

    def visible_indices(self) -> list[int]:
        """Item indices as the table shows them (filtered and sorted)."""
        rows = self.model.rows
        return [rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].index for r in range(self.proxy.rowCount())]

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.proxy.rowCount()} / {self.model.rowCount()} items")

    def _on_row_changed(self, current, _previous) -> None:
        if current.isValid():
            source = self.proxy.mapToSource(current)
            self.selection.select_item(self.model.rows[source.row()].index)

    def _on_run_chosen(self, name: str) -> None:
        if name:
            self.selection.select_run(name)

    def _on_compare_chosen(self, name: str) -> None:
        self.selection.select_compare(name or None)

    def _show_compare_mode(self, on: bool) -> None:
        self.compare_button.blockSignals(True)
        self.compare_button.setChecked(on)
        self.compare_button.blockSignals(False)

    def _on_compare_changed(self, _name) -> None:
        self._sync_run_boxes()
        self.model.rebuild()

    def visible_order(self, around: int | None = None, reach: int = 2) -> list[int]:
        """Item indices in the table's current (filtered, sorted) order; with `around`, only the rows
        within `reach` of that item's row (cheap on a thousand rows)."""
        rows = range(self.proxy.rowCount())
        source = self.model.row_of(around) if around is not None else None
        if source is not None:
            at = self.proxy.mapFromSource(self.model.index(source, 0)).row()
            if at >= 0:
                rows = range(max(0, at - reach), min(self.proxy.rowCount(), at + reach + 1))
        return [self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].index for r in rows]

    def current_index(self) -> int | None:
        """The item of the table's current row (None: no row)."""
        current = self.table.currentIndex()
        if not current.isValid():
            return None
        return self.model.rows[self.proxy.mapToSource(current).row()].index

    def select_index(self, index: int) -> None:
        """Programmatic selection (tests, --select): same path as a click."""
        self.selection.select_item(index)
