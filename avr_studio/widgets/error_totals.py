"""Error totals of the shown run: failed instances per category and kind (click a count to filter
the browser to its items) and the IoU histogram of matched pairs (0.5 splits mislocalised from
matched). Renders `ErrorTotals`; computes nothing itself."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from avr_studio.models.error_totals import UNREADABLE, ErrorTotals
from avr_studio.models.failures import FAILURE_KINDS
from avr_studio.palette import KIND_COLOURS, OKABE_ITO

COLUMNS = (*FAILURE_KINDS, UNREADABLE)
HEADERS = {"missed": "missed", "hallucinated": "halluc.", "duplicate": "dup.", "mislocalised": "misloc.",
           UNREADABLE: "unread."}
HEADER_TIPS = {"missed": "GT instances no prediction matched", "hallucinated": "predictions overlapping no GT",
               "duplicate": "predictions overlapping a GT another prediction matched better",
               "mislocalised": "matched with IoU < 0.5", UNREADABLE: "answers that could not be read (IFA failures)"}
HISTOGRAM_BINS = 10


class ErrorTotalsPanel(QWidget):
    #: (category, kind, item indices): the user asked to see these items in the browser
    filter_requested = Signal(str, str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.totals: ErrorTotals | None = None
        self.title = QLabel("No run with clue answers shown")
        self.table = QTableWidget(0, len(COLUMNS))
        for col, kind in enumerate(COLUMNS):
            header = QTableWidgetItem(HEADERS[kind])
            header.setToolTip(f"{kind}: {HEADER_TIPS[kind]}")
            self.table.setHorizontalHeaderItem(col, header)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.cellClicked.connect(self._on_cell)
        self.table.setToolTip("Click a count to show its items in the browser")
        self.histogram = pg.PlotWidget()
        self.histogram.setMenuEnabled(False)
        self.histogram.setMouseEnabled(x=False, y=False)
        self.histogram.setLabel("bottom", "IoU of matched pairs (click a bar: its items)")
        self.histogram.scene().sigMouseClicked.connect(self._on_histogram_click)
        self.histogram.setLabel("left", "pairs")
        self.histogram.addItem(pg.InfiniteLine(0.5, angle=90, pen=pg.mkPen(OKABE_ITO["vermillion"], style=Qt.PenStyle.DashLine)))
        self.bars: pg.BarGraphItem | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        layout.addWidget(self.histogram, 1)

    def show_totals(self, totals: ErrorTotals | None) -> None:
        self.totals = totals
        self.table.setRowCount(0)
        if self.bars is not None:
            self.histogram.removeItem(self.bars)
            self.bars = None
        if totals is None:
            self.title.setText("No run with clue answers shown")
            return
        self.title.setText(f"Errors of {totals.run} ({totals.n_items.get('all', 0)} clue items)")
        categories = totals.categories()
        self.table.setRowCount(len(categories))
        self.table.setVerticalHeaderLabels(categories)
        for row, category in enumerate(categories):
            for col, kind in enumerate(COLUMNS):
                self.table.setItem(row, col, self._cell(totals, category, kind))
        rows_height = sum(self.table.rowHeight(r) for r in range(len(categories)))
        self.table.setFixedHeight(rows_height + self.table.horizontalHeader().height() + 4)
        self._draw_histogram(totals)

    def _cell(self, totals: ErrorTotals, category: str, kind: str) -> QTableWidgetItem:
        count = totals.count(category, kind)
        cell = QTableWidgetItem(str(count))
        cell.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        cell.setToolTip(f"{count} {kind} instance(s) in {len(totals.items(category, kind))} item(s)")
        if count and kind in KIND_COLOURS:
            cell.setForeground(pg.mkColor(KIND_COLOURS[kind]))
        return cell

    def _draw_histogram(self, totals: ErrorTotals) -> None:
        counts, edges = totals.iou_histogram(HISTOGRAM_BINS)
        centres = (edges[:-1] + edges[1:]) / 2
        brushes = [KIND_COLOURS["matched"] if c >= 0.5 else KIND_COLOURS["mislocalised"] for c in centres]
        self.bars = pg.BarGraphItem(x=centres, height=counts, width=np.diff(edges) * 0.9, brushes=brushes)
        self.histogram.addItem(self.bars)
        self.histogram.setXRange(0, 1, padding=0.02)
        self.histogram.setYRange(0, max(1, int(counts.max()) if len(counts) else 1), padding=0.05)

    def _on_histogram_click(self, event) -> None:
        if self.totals is None:
            return
        x = self.histogram.getViewBox().mapSceneToView(event.scenePos()).x()
        self.show_iou_bin(x)

    def show_iou_bin(self, iou: float) -> None:
        """Ask for the items whose matched pairs fall in the histogram bin holding `iou`."""
        if self.totals is None or not 0.0 <= iou <= 1.0:
            return
        k = min(HISTOGRAM_BINS - 1, int(iou * HISTOGRAM_BINS))
        low, high = k / HISTOGRAM_BINS, (k + 1) / HISTOGRAM_BINS
        self.filter_requested.emit("all", f"IoU {low:.1f}-{high:.1f}", self.totals.items_with_iou(low, high))

    def _on_cell(self, row: int, col: int) -> None:
        if self.totals is None:
            return
        category = self.table.verticalHeaderItem(row).text()
        kind = COLUMNS[col]
        self.filter_requested.emit(category, kind, self.totals.items(category, kind))
