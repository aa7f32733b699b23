"""Live training curves (pyqtgraph): loss, reward per function, KL and completion length over the global
step, stage boundaries marked, smoothing, log scale, several runs overlaid (TensorBoard-style).

Drawing reuses one PlotDataItem per (run, metric) and hands it numpy views of the run's growing
arrays (`TrainRun.series`), with peak downsampling and clipping to the view, so a redraw stays in
the milliseconds for 100k-row runs.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from avr_studio.models.train_run import REWARD_PREFIX, TrainRun, reward_name

PANELS = (("loss", "Loss"), ("reward", "Reward per function (mean)"), ("kl", "KL"),
          ("length", "Completion length (tokens)"))
COLOURS = ("#4e9af1", "#f1a34e", "#5cc46a", "#e0565b", "#a77de8", "#d9c84a", "#4fd0d0", "#c9c9c9")
RUN_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine)


def panel_of(metric: str) -> str | None:
    if metric == "loss":
        return "loss"
    if metric == "kl":
        return "kl"
    if metric == "completions/mean_length":
        return "length"
    if metric.startswith(REWARD_PREFIX):
        return "reward"
    return None


class Curves(QWidget):
    """The four panels and their controls; `redraw()` after the runs were polled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs: dict[str, TrainRun] = {}
        self._items: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._boundaries: list[pg.InfiniteLine] = []
        self._boundary_key: tuple = ()
        self._drawn: dict[tuple[str, str], tuple[int, float]] = {}  # (run, metric) -> (points, smoothing)
        self.smoothing = QDoubleSpinBox()
        self.smoothing.setRange(0.0, 0.99)
        self.smoothing.setSingleStep(0.1)
        self.smoothing.setValue(0.6)
        self.smoothing.setToolTip("exponential moving average weight, as TensorBoard's slider (0: raw)")
        self.smoothing.valueChanged.connect(lambda _v: self.redraw())
        self.log_scale = QCheckBox("Log scale")
        self.log_scale.toggled.connect(self._set_log)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plots: dict[str, pg.PlotItem] = {}
        for i, (key, title) in enumerate(PANELS):
            plot = self.graphics.addPlot(row=i // 2, col=i % 2, title=title)
            plot.addLegend(offset=(-5, 5), labelTextSize="8pt")
            plot.setLabel("bottom", "global step")
            self.plots[key] = plot
        first = self.plots["loss"]
        for plot in self.plots.values():
            if plot is not first:
                plot.setXLink(first)
        first.enableAutoRange(x=False)  # the x range grows in steps (see _extend_x): the axes redraw rarely
        self._x_end = 0.0
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self.log_scale)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    # ---- runs ------------------------------------------------------------------------------
    def set_runs(self, runs: dict[str, TrainRun]) -> None:
        """The runs to draw, the first being the tab's own (its stage boundaries are marked)."""
        for (run_name, metric), item in list(self._items.items()):
            if run_name not in runs:
                self.plots[panel_of(metric)].removeItem(item)
                del self._items[(run_name, metric)]
                self._drawn.pop((run_name, metric), None)
        self.runs = dict(runs)
        self._x_end = 0.0
        self._drawn.clear()  # a new or re-read run: every curve gets its arrays again
        self.redraw()

    def drawn_points(self, metric: str, run_name: str | None = None) -> int:
        """How many points the curve of `metric` holds (for tests and the benchmark)."""
        name = run_name or next(iter(self.runs), None)
        item = self._items.get((name, metric))
        return 0 if item is None or item.xData is None else len(item.xData)

    # ---- drawing ---------------------------------------------------------------------------
    def redraw(self) -> None:
        """Hand the curves that gained points (or a new smoothing) their arrays; others are left alone."""
        weight = self.smoothing.value()
        for r, (run_name, run) in enumerate(self.runs.items()):
            for metric, series in list(run.series.items()):
                panel = panel_of(metric)
                key = (run_name, metric)
                if panel is None or self._drawn.get(key) == (series.steps.size, weight):
                    continue
                item = self._items.get(key) or self._new_item(run_name, r, metric, panel)
                item.setData(series.steps.values, series.smoothed(weight))
                self._drawn[key] = (series.steps.size, weight)
        self._extend_x()
        self._mark_stages()

    def _extend_x(self) -> None:
        """Keep every step in view, widening the x range by a quarter ahead of the data when it runs
        out: a growing run then changes the axes (whose redraw dominates a paint) every ~25% of its
        length, not on every poll."""
        ends = [s.steps.values[-1] for run in self.runs.values() for s in run.series.values() if s.steps.size]
        starts = [s.steps.values[0] for run in self.runs.values() for s in run.series.values() if s.steps.size]
        if not ends:
            return
        end = float(max(ends))
        if end <= self._x_end and self._x_end <= 1.5 * end + 10:
            return
        start = float(min(starts))
        self._x_end = end + max(5.0, 0.25 * (end - start))
        self.plots["loss"].setXRange(start - 1.0, self._x_end, padding=0)

    def _new_item(self, run_name: str, run_rank: int, metric: str, panel: str) -> pg.PlotDataItem:
        plot = self.plots[panel]
        colour_rank = sum(1 for (n, _m) in self._items if n == run_name and panel_of(_m) == panel)
        colour = COLOURS[(colour_rank if panel == "reward" else run_rank) % len(COLOURS)]
        pen = pg.mkPen(colour, width=1, style=RUN_STYLES[run_rank % len(RUN_STYLES)])
        label = reward_name(metric) if panel == "reward" else metric.split("/")[-1]
        if len(self.runs) > 1 or run_rank > 0:
            label = f"{run_name}: {label}"
        item = plot.plot(pen=pen, name=label)
        item.setDownsampling(auto=True, method="mean")
        item.setClipToView(True)
        self._items[(run_name, metric)] = item
        return item

    def _mark_stages(self) -> None:
        """A vertical line at each stage's first global step of the first run, named after the stage;
        lines are only added for new stages (a re-read run or another first run starts over)."""
        run = next(iter(self.runs.values()), None)
        starts = tuple(sorted(run.stage_starts.items(), key=lambda kv: kv[1])) if run else ()
        if starts == self._boundary_key:
            return
        if starts[: len(self._boundary_key)] != self._boundary_key:
            for line in self._boundaries:
                for plot in self.plots.values():
                    plot.removeItem(line)
            self._boundaries, self._boundary_key = [], ()
        for stage, step in starts[len(self._boundary_key):]:
            for key, plot in self.plots.items():
                line = pg.InfiniteLine(pos=step - 0.5, angle=90, movable=False,
                                       pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine),
                                       label=stage if key == "loss" else None,
                                       labelOpts={"position": 0.92, "color": "#aaaaaa", "rotateAxis": (1, 0)})
                plot.addItem(line)
                self._boundaries.append(line)
        self._boundary_key = starts

    @property
    def boundary_stages(self) -> list[str]:
        return [stage for stage, _step in self._boundary_key]

    def _set_log(self, on: bool) -> None:
        for plot in self.plots.values():
            plot.setLogMode(y=on)
