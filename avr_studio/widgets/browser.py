"""The item browser: a sortable, filterable table; its selection drives every other view."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models import ScoreBoard, Selection, Session
from avr_studio.models.rows import OUTCOMES, ItemRow, RowFilter, build_row
from avr_studio.palette import KIND_COLOURS

COLUMNS = ("index", "category", "modality", "question", "GT", "pred", "|error|", "WCS", "IFA fail")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


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
        session.dataset_changed.connect(self.rebuild)
        session.runs_changed.connect(self.rebuild)
        selection.run_changed.connect(lambda _name: self.rebuild())
        scores.changed.connect(self._on_score_changed)

    def rebuild(self) -> None:
        run = self.session.run(self.selection.run_name)
        other = self.session.run(self.selection.compare_name)
        self.beginResetModel()
        self.rows = [build_row(item, run, other, self.scores) for item in self.session.items]
        self.endResetModel()

    def _on_score_changed(self, run: str, index: int) -> None:
        for position, row in enumerate(self.rows):
            if row.index == index:
                item = self.session.item(index)
                active = self.session.run(self.selection.run_name)
                other = self.session.run(self.selection.compare_name)
                self.rows[position] = build_row(item, active, other, self.scores)
                self.dataChanged.emit(self.index(position, 0), self.index(position, len(COLUMNS) - 1))
                return

    def row_of(self, index: int) -> int | None:
        return next((i for i, row in enumerate(self.rows) if row.index == index), None)

    # ---- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == SORT_ROLE:
            return self._sort_key(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == "question":
            return row.question
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._colour(row, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column not in ("question", "category", "modality"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: ItemRow, column: str) -> str:
        return {
            "index": str(row.index),
            "category": row.category,
            "modality": row.modality,
            "question": row.question,
            "GT": str(row.gt),
            "pred": "fail" if row.count_failure else _fmt_number(row.pred),
            "|error|": _fmt_number(row.abs_error),
            "WCS": _fmt_number(row.wcs, 1),
            "IFA fail": "" if row.ifa_failure is None else ("yes" if row.ifa_failure else "no"),
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
        }[column]
        return -1.0 if value is None else value  # every number shown is >= 0: missing sorts first

    @staticmethod
    def _colour(row: ItemRow, column: str):
        if column == "pred" and row.correct is not None:
            return QColor(KIND_COLOURS["matched"] if row.correct else KIND_COLOURS["missed"])
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
        self.run_box.setToolTip("run shown in the table, overlays and WCS panel")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("second run for the 'runs disagree' filter")
        for combo in (self.category, self.modality, self.outcome):
            combo.currentTextChanged.connect(self._apply_filter)
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
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("question"), QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COLUMNS.index("question"), 240)
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.count_label = QLabel()

        runs_bar, filter_bar = QHBoxLayout(), QHBoxLayout()
        for bar, pairs in (
            (runs_bar, (("run", self.run_box), ("vs", self.compare_box))),
            (filter_bar, (("category", self.category), ("modality", self.modality), ("show", self.outcome))),
        ):
            for label, widget in pairs:
                bar.addWidget(QLabel(label))
                bar.addWidget(widget, 1)
        runs_bar.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(runs_bar)
        layout.addLayout(filter_bar)
        layout.addWidget(self.search)
        layout.addWidget(self.table)

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
                      self.outcome.currentText(), self.search.text())
        )
        self._update_count()

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

    def _on_compare_changed(self, _name) -> None:
        self._sync_run_boxes()
        self.model.rebuild()

    def select_index(self, index: int) -> None:
        """Programmatic selection (tests, --select): same path as a click."""
        self.selection.select_item(index)
