"""Summary: each run's black-box and white-box metrics by category and modality with bootstrap
95% intervals (engine.scoring.group_stats), and predicted vs GT count."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models import ScoreBoard, Session
from avr_studio.palette import OKABE_ITO
from engine.results import LongReport
from engine.scoring import group_stats

METRICS = ("acc", "oboa", "mae", "rmse", "wcs", "ifa")
SUMMARY_COLUMNS = ("run", "protocol", "group", "N", *("Acc %", "OBOA %", "MAE", "RMSE", "WCS", "IFA"))
RUN_COLOURS = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue", "vermillion")]


def format_metric(group, metric: str) -> str:
    """"value [low, high]" with the bootstrap 95% interval; empty when the protocol lacks it."""
    if metric not in group.metrics:
        return ""
    digits = 3 if metric == "ifa" else 2
    ci = group.ci.get(metric)
    interval = f"  [{ci.low:.{digits}f}, {ci.high:.{digits}f}]" if ci else ""
    return f"{group.metrics[metric]:.{digits}f}{interval}"


class Summary(QWidget):
    def __init__(self, session: Session, scores: ScoreBoard, parent=None) -> None:
        super().__init__(parent)
        self.session, self.scores = session, scores
        self.key = QComboBox()
        self.key.addItems(["category", "modality"])
        self.key.currentTextChanged.connect(lambda _k: self.refresh())
        self.table = QTableWidget(0, len(SUMMARY_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(SUMMARY_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAlternatingRowColors(True)
        self.table.setToolTip("value [95% bootstrap interval] per group; Acc/OBOA/MAE/RMSE for the long and "
                              "ref protocols, WCS/IFA for the clue protocol")
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#FFFFFF")
        self.plot.setLabel("bottom", "GT count")
        self.plot.setLabel("left", "predicted count (long protocol)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.addLegend(offset=(10, 10))
        top = QHBoxLayout()
        top.addWidget(QLabel("group by"))
        top.addWidget(self.key)
        top.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.plot)
        split.setSizes([1000, 500])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        session.runs_changed.connect(self.refresh)
        session.dataset_changed.connect(self.refresh)
        self._dirty = True

    def refresh(self) -> None:
        """Bootstrap costs a moment: only recompute when shown (showEvent) or asked."""
        self._dirty = True
        if self.isVisible():
            self._recompute()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self._recompute()

    def _recompute(self) -> None:
        self._dirty = False
        rows = []
        for run in self.session.runs:
            for protocol, report in run.reports.items():
                stats = group_stats(report, self.session.items, key=self.key.currentText(), n_boot=500)
                for name, group in stats.items():
                    cells = [format_metric(group, metric) for metric in METRICS]
                    rows.append((run.name, protocol, name, str(group.n), *cells))
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell = QTableWidgetItem(text)
                if c >= 3:
                    cell.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
                self.table.setItem(r, c, cell)
        self._plot_counts()

    def _plot_counts(self) -> None:
        self.plot.clear()
        largest = 1.0
        for k, run in enumerate(self.session.runs):
            report = run.reports.get("long") or run.reports.get("ref")
            if not isinstance(report, LongReport) or not report.per_item:
                continue
            pairs = [(s.gt, s.count if s.count is not None else 0.0) for s in report.per_item.values()]
            xs, ys = zip(*pairs, strict=True)
            largest = max(largest, *xs, *ys)
            colour = RUN_COLOURS[k % len(RUN_COLOURS)]
            self.plot.addItem(pg.ScatterPlotItem(
                x=list(xs), y=list(ys), size=9, pen=pg.mkPen("#333333"), brush=pg.mkBrush(colour), name=run.name,
                symbol="osdt+"[k % 5]))
        self.plot.addItem(pg.PlotCurveItem([0, largest], [0, largest], pen=pg.mkPen("#555555", style=Qt.PenStyle.DashLine)))

    def metric_rows(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]
