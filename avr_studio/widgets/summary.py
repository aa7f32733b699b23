"""Summary: each run's metrics by category and modality with bootstrap 95% intervals
(engine.scoring.group_stats); the paired comparison of runs A and B (engine.compare, the numbers of
`avr compare`); predicted vs GT count per run, clickable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
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

from avr_studio.models import ScoreBoard, Selection, Session
from avr_studio.palette import OKABE_ITO
from avr_studio.widgets.thinking_note import ThinkingNote
from engine.compare import DEFAULT_RESAMPLES, DEFAULT_SEED, ProtocolComparison, compare_reports
from engine.results import LongReport
from engine.scoring import group_stats

METRICS = ("acc", "oboa", "mae", "rmse", "wcs", "ifa")
SUMMARY_COLUMNS = ("run", "protocol", "group", "N", *("Acc %", "OBOA %", "MAE", "RMSE", "WCS", "IFA"))
PAIRED_COLUMNS = ("protocol", "group", "N", "metric", "A", "B", "B - A", "95% CI", "Acc discordant (exact McNemar)")
METRIC_LABELS = {"acc": "Acc %", "oboa": "OBOA %", "mae": "MAE", "rmse": "RMSE", "wcs": "WCS %", "ifa": "IFA"}
RUN_COLOURS = [OKABE_ITO[k] for k in ("blue", "orange", "bluish_green", "reddish_purple", "sky_blue", "vermillion")]
RUN_SYMBOLS = "os+dt"
#: Runs' points at the same (GT, prediction) are drawn side by side, this far apart (in counts).
DODGE = 0.18
#: The view covers this percentile of the counts; larger ones are drawn on the edge as arrows.
VIEW_PERCENTILE = 98


def format_metric(group, metric: str) -> str:
    """"value [low, high]" with the bootstrap 95% interval; empty when the protocol lacks it."""
    if metric not in group.metrics:
        return ""
    digits = 3 if metric == "ifa" else 2
    ci = group.ci.get(metric)
    interval = f"  [{ci.low:.{digits}f}, {ci.high:.{digits}f}]" if ci else ""
    return f"{group.metrics[metric]:.{digits}f}{interval}"


def paired_cells(protocol: str, stats, metric) -> list[str]:
    digits = 3 if metric.metric == "ifa" else 2
    cells = [protocol, stats.name, str(stats.n), METRIC_LABELS[metric.metric], f"{metric.a:.{digits}f}",
             f"{metric.b:.{digits}f}", f"{metric.diff:+.{digits}f}",
             f"[{metric.ci_low:+.{digits}f}, {metric.ci_high:+.{digits}f}]"]
    m = stats.mcnemar
    cells.append(f"A only {m.a_only_right}, B only {m.b_only_right}, p = {m.p_value:.4g}"
                 if metric.metric == "acc" and m is not None else "")
    return cells


class Summary(QWidget):
    item_clicked = Signal(int)  # a point of the scatter: select that item

    def __init__(self, session: Session, scores: ScoreBoard, selection: Selection | None = None, parent=None) -> None:
        super().__init__(parent)
        self.session, self.scores, self.selection = session, scores, selection or Selection()
        self.paired: list[ProtocolComparison] = []
        self.scatter_items: list[pg.ScatterPlotItem] = []
        self.unplotted: dict[str, int] = {}
        self._build()
        session.runs_changed.connect(self.refresh)
        session.dataset_changed.connect(self.refresh)
        self.selection.run_changed.connect(lambda _r: self.refresh())
        self.selection.compare_changed.connect(lambda _r: self.refresh())
        self._dirty = True

    def _build(self) -> None:
        self.key = QComboBox()
        self.key.addItems(["category", "modality"])
        self.key.currentTextChanged.connect(lambda _k: self.refresh())
        self.table = self._table(SUMMARY_COLUMNS, "value [95% bootstrap interval] per group; Acc/OBOA/MAE/RMSE for "
                                 "the long and ref protocols, WCS/IFA for the clue protocol")
        self.paired_table = self._table(PAIRED_COLUMNS, "B - A on the items both runs answered, with a paired "
                                        "bootstrap 95% interval; Acc: items only one run got right, exact McNemar p")
        self.paired_title = QLabel()
        self.paired_title.setWordWrap(True)
        self.unpaired = QLabel()
        self.unpaired.setWordWrap(True)
        self.thinking = ThinkingNote(self.session)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#FFFFFF")
        self.plot.setLabel("bottom", "GT count")
        self.plot.setLabel("left", "predicted count (long protocol, else ref)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-10, -10))  # bottom right: under the diagonal, rarely data
        self.plot_note = QLabel()
        self.plot_note.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("group by"))
        top.addWidget(self.key)
        top.addStretch(1)
        paired_box = QWidget()
        paired_layout = QVBoxLayout(paired_box)
        paired_layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.paired_title, self.thinking, self.paired_table, self.unpaired):
            paired_layout.addWidget(widget, 1 if widget is self.paired_table else 0)
        tables = QSplitter(Qt.Orientation.Vertical)
        tables.addWidget(self.table)
        tables.addWidget(paired_box)
        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addWidget(self.plot, 1)
        plot_layout.addWidget(self.plot_note)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(tables)
        split.addWidget(plot_box)
        split.setSizes([1000, 500])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    @staticmethod
    def _table(columns, tip: str) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(list(columns))
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setAlternatingRowColors(True)
        table.setToolTip(tip)
        return table

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
        self._fill(self.table, rows)
        self._recompute_paired()
        self._plot_counts()

    @staticmethod
    def _fill(table: QTableWidget, rows) -> None:
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell = QTableWidgetItem(text)
                if c >= 2:
                    cell.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
                table.setItem(r, c, cell)

    # ---- paired comparison ------------------------------------------------------------------
    def _recompute_paired(self) -> None:
        """The engine's paired comparison of runs A and B, as `avr compare` computes it."""
        a, b = self.session.run(self.selection.run_name), self.session.run(self.selection.compare_name)
        self.paired = []
        if a is not None and b is not None:
            items = {item.index: item for item in self.session.items}
            self.paired = [compare_reports(p, a.reports[p], b.reports[p], items, DEFAULT_RESAMPLES, DEFAULT_SEED)
                           for p in ("long", "ref", "clue") if p in a.reports and p in b.reports]
        key = self.key.currentText()
        rows = []
        for comparison in self.paired:
            for stats in (comparison.overall, *comparison.groups.get(key, ())):
                rows.extend(paired_cells(comparison.protocol, stats, m) for m in stats.metrics)
        self._fill(self.paired_table, rows)
        if a is None or b is None:
            self.paired_title.setText("Paired comparison: load a second run (B) to compare.")
        else:
            self.paired_title.setText(
                f"Paired comparison, B {b.name} - A {a.name} ({self.session.mode} scoring): items both runs "
                f"answered; paired bootstrap 95% CI, {DEFAULT_RESAMPLES} resamples, seed {DEFAULT_SEED}.")
        self.thinking.show_for([self.selection.run_name, self.selection.compare_name])
        unpaired = [f"{c.protocol}: only in A {list(c.only_a)}, only in B {list(c.only_b)}"
                    for c in self.paired if c.only_a or c.only_b]
        self.unpaired.setText("Not paired (one run only): " + "; ".join(unpaired) if unpaired else "")

    # ---- scatter -----------------------------------------------------------------------------
    def _plot_counts(self) -> None:
        """Parse failures are not points (they have no count): they are counted under the plot."""
        self.plot.clear()
        self.legend.clear()
        self.scatter_items, self.unplotted = [], {}
        series = []
        for run in self.session.runs:
            report = run.reports.get("long") or run.reports.get("ref")
            if not isinstance(report, LongReport) or not report.per_item:
                continue
            scores = [s for s in report.per_item.values() if s.count is not None and np.isfinite(s.count)]
            self.unplotted[run.name] = len(report.per_item) - len(scores)
            series.append((run, scores))
        values = [v for _run, scores in series for s in scores for v in (s.gt, s.count)]
        limit = max(1.0, float(np.percentile(np.abs(values), VIEW_PERCENTILE)) * 1.15) if values else 1.0
        for k, (run, scores) in enumerate(series):
            self._add_series(k, len(series), run.name, scores, limit)
        self.plot.addItem(pg.PlotCurveItem([0, limit], [0, limit], pen=pg.mkPen("#555555", style=Qt.PenStyle.DashLine)))
        self.plot.setRange(xRange=(-0.5, limit), yRange=(-0.5, limit), padding=0.02)
        failures = ", ".join(f"{name} {n}" for name, n in self.unplotted.items() if n)
        self.plot_note.setText(("Parse failures (not plotted): " + failures + ". " if failures else "")
                               + "Click a point to open the item; arrows: beyond the view.")

    def _add_series(self, k: int, n_series: int, name: str, scores, limit: float) -> None:
        dodge = (k - (n_series - 1) / 2) * DODGE
        colour = RUN_COLOURS[k % len(RUN_COLOURS)]
        xs = [min(s.gt, limit) + dodge for s in scores]
        ys = [min(s.count, limit) for s in scores]
        symbols = ["t1" if s.count > limit or s.gt > limit else RUN_SYMBOLS[k % len(RUN_SYMBOLS)] for s in scores]
        item = pg.ScatterPlotItem(x=xs, y=ys, data=[s.index for s in scores], symbol=symbols, size=10,
                                  pen=pg.mkPen(colour, width=2), brush=pg.mkBrush(colour + "40"), name=name,
                                  hoverable=True, tip=lambda x, y, data: f"item {data}")
        item.sigClicked.connect(self._on_points_clicked)
        self.plot.addItem(item)
        self.scatter_items.append(item)

    def _on_points_clicked(self, _item, points, *_args) -> None:
        if len(points):
            self.item_clicked.emit(int(points[0].data()))

    def metric_rows(self) -> list[list[str]]:
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]

    def paired_rows(self) -> list[list[str]]:
        t = self.paired_table
        return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]
