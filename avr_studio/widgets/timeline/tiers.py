"""Drawing on the tier plot (ELAN-style rows): interval bars, tIoU links to the GT tier, frame
ticks per cluster, notes that stay in view, and markers where two runs' outcomes differ.

Every item switch redraws the tiers, so the items are pooled (`ItemPool`): a redraw gives the bars,
ticks, links and labels of the last one new data instead of building new pyqtgraph objects."""

from __future__ import annotations

import pyqtgraph as pg

from avr_studio.models.overlay import FrameTick, OverlayInterval
from avr_studio.palette import DIFFERENCE, KIND_COLOURS, LABEL_BACKGROUND, TEXT_ON_DARK, kind_colour
from avr_studio.widgets.item_layer import ItemPool
from avr_studio.widgets.timeline.edit_handles import tier_pen

ROW_HEIGHT = 0.64
LABEL_SPACING_PX = 70
TICK_SIZE_PX = 26


class TierPainter:
    """Rows are numbered from the top (row 0); `row_y(row)` is the bottom of a row's bar. A redraw is
    `reset(names)`, the drawing calls, then `finish()` (hides what the last redraw drew and this one
    did not)."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.layer = ItemPool(plot)  # everything below is redrawn per item / per re-score
        self.labels: list[pg.TextItem] = []  # tIoU labels, hidden where they would overlap
        self.notes: list[pg.TextItem] = []  # kept at the left edge of the view on zoom and pan
        self.n_rows = 1
        self._names: list[str] | None = None

    def reset(self, names: list[str]) -> None:
        self.layer.begin()
        self.labels = []
        self.notes = []
        if names == self._names:
            return
        self._names = list(names)
        self.n_rows = max(1, len(names))
        self.plot.setYRange(0, self.n_rows, padding=0)
        ticks = [(self.n_rows - r - 0.5, name if len(name) <= 12 else name[:11] + "…") for r, name in enumerate(names)]
        self.plot.getAxis("left").setTicks([ticks])

    def finish(self) -> None:
        self.layer.end()
        self.declutter_labels()

    def row_y(self, row: int) -> float:
        return self.n_rows - row - 0.5 - ROW_HEIGHT / 2

    def span(self, row: int) -> tuple[float, float]:
        """A row's extent as fractions of the plot height (for LinearRegionItem spans)."""
        bottom = self.row_y(row) / self.n_rows
        return bottom, bottom + ROW_HEIGHT / self.n_rows

    # ---- event items ---------------------------------------------------------------------
    def bars(self, intervals: list[OverlayInterval], row: int, dashed: bool, alpha: str = "C0") -> None:
        if not intervals:
            return
        brushes = [pg.mkBrush(kind_colour(iv.kind) + ("80" if dashed else alpha)) for iv in intervals]
        pens = [tier_pen(iv.kind, dashed) for iv in intervals]
        bars = self.layer.take("bars", lambda: pg.BarGraphItem(x0=[], x1=[], y0=0, height=ROW_HEIGHT))
        bars.setOpts(x0=[iv.start for iv in intervals], x1=[iv.end for iv in intervals],
                     y0=self.row_y(row), height=ROW_HEIGHT, brushes=brushes, pens=pens)

    def links(self, preds: list[OverlayInterval], row: int, gt_row: int) -> None:
        """A line from each prediction to the GT it matched, labelled with the engine's tIoU."""
        below = row > gt_row
        y_pred = self.row_y(row) + (ROW_HEIGHT if below else 0.0)
        y_gt = self.row_y(gt_row) + (0.0 if below else ROW_HEIGHT)
        for iv in preds:
            if iv.partner is None or iv.iou is None:
                continue
            xp, xg = (iv.start + iv.end) / 2, (iv.partner[0] + iv.partner[1]) / 2
            link = self.layer.take("link", pg.PlotCurveItem)
            link.setData([xp, xg], [y_pred, y_gt], pen=tier_pen(iv.kind, False, 1))
            label = self.layer.take("label", _link_label)
            label.setPlainText(f"tIoU {iv.iou:.2f}")
            label.setPos((xp + xg) / 2, (y_pred + y_gt) / 2)
            self.labels.append(label)

    # ---- object / attribute items -----------------------------------------------------------
    def ticks(self, ticks: list[FrameTick], row: int, n_clusters: int) -> list[FrameTick]:
        """One tick per frame, clusters side by side within the row so simultaneous ones all show.
        Returns the ticks that have no time (drawn as a note instead)."""
        timed = [t for t in ticks if t.time is not None]
        if timed:
            k = max(1, n_clusters)
            step = ROW_HEIGHT / k
            centre = self.row_y(row) + ROW_HEIGHT / 2
            ys = [centre + (t.cluster - (k - 1) / 2) * step for t in timed]
            size = max(8, TICK_SIZE_PX // k)
            scatter = self.layer.take("ticks", pg.ScatterPlotItem)
            scatter.setData(x=[t.time for t in timed], y=ys, symbol="|", size=size,
                            pen=[pg.mkPen(kind_colour(t.kind), width=3) for t in timed], brush=None)
        return [t for t in ticks if t.time is None]

    # ---- notes and markers -----------------------------------------------------------------
    def note(self, text: str, row: int, colour: str = KIND_COLOURS["missed"]) -> pg.TextItem:
        label = self.layer.take("note", _note_label)
        if label.color.name().upper() != colour.upper():
            label.setColor(colour)
        label.setPlainText(text)
        label.setPos(self.plot.viewRange()[0][0], self.row_y(row) + ROW_HEIGHT / 2)
        self.notes.append(label)
        return label

    def markers(self, times: list[float], row: int) -> None:
        """Where runs A and B differ: a marker above the GT row at each such time."""
        if not times:
            return
        y = self.row_y(row) + ROW_HEIGHT  # on the GT row's top edge: the GT tick stays visible
        markers = self.layer.take("markers", _difference_markers)
        markers.setData(x=times, y=[y] * len(times), symbol="d", size=15,
                        pen=pg.mkPen("#000000", width=1.5), brush=pg.mkBrush(DIFFERENCE))

    def on_range_changed(self) -> None:
        (x0, x1), _ = self.plot.viewRange()
        for note in self.notes:
            note.setPos(x0, note.pos().y())
        self.declutter_labels()

    def declutter_labels(self) -> None:
        """Show a tIoU label only where it does not overlap the one before it (per tier row)."""
        (x0, x1), _ = self.plot.viewRange()
        width = max(1.0, self.plot.getViewBox().width())
        last_px: dict[float, float] = {}
        for label in sorted(self.labels, key=lambda lab: lab.pos().x()):
            row, px = label.pos().y(), (label.pos().x() - x0) / (x1 - x0) * width if x1 > x0 else 0.0
            visible = px - last_px.get(row, -1e9) >= LABEL_SPACING_PX
            label.setVisible(visible)
            if visible:
                last_px[row] = px


def _link_label() -> pg.TextItem:
    label = pg.TextItem("", color=TEXT_ON_DARK, fill=pg.mkBrush(LABEL_BACKGROUND), anchor=(0.5, 0.5))
    label.setZValue(40)
    return label


def _note_label() -> pg.TextItem:
    label = pg.TextItem("", color=KIND_COLOURS["missed"], anchor=(0, 0.5))
    label.setZValue(45)
    return label


def _difference_markers() -> pg.ScatterPlotItem:
    markers = pg.ScatterPlotItem()
    markers.setZValue(60)
    return markers
