"""What-if handles on the timeline: one movable region per predicted interval of the shown run,
kept across live re-scores so a drag continues while the panel updates."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg

from avr_studio.models.overlay import OverlayInterval
from avr_studio.palette import kind_colour


def tier_pen(kind: str, dashed: bool, width: float = 2):
    pen = pg.mkPen(kind_colour(kind), width=width)
    if dashed:
        pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
    return pen


class IntervalHandles:
    """Regions by slot (position in the prediction's interval list); a drag calls `on_moved(slot, (s, e))`."""

    def __init__(self, plot: pg.PlotItem, on_moved: Callable[[int, tuple[float, float]], None],
                 on_finished: Callable[[], None] = lambda: None) -> None:
        self.plot = plot
        self.on_moved = on_moved
        self.on_finished = on_finished
        self.regions: dict[int, pg.LinearRegionItem] = {}
        self.editing_slot: int | None = None
        self._placing = False

    def sync(self, preds: list[OverlayInterval], span: tuple[float, float]) -> None:
        """Regions for these predictions, spanning the tier (fractions of the plot's height)."""
        if {iv.slot for iv in preds} != set(self.regions):
            self.clear()
        for iv in preds:
            region = self.regions.get(iv.slot)
            if region is None:
                region = pg.LinearRegionItem((iv.start, iv.end), movable=True, span=span, swapMode="sort")
                region.setZValue(30)
                region.sigRegionChanged.connect(lambda reg, s=iv.slot: self._moved(s, reg))
                region.sigRegionChangeFinished.connect(lambda _reg: self.on_finished())
                self.plot.addItem(region)
                self.regions[iv.slot] = region
            region.span = span
            for line in region.lines:
                line.setSpan(*span)
            region.update()
            colour = kind_colour(iv.kind)
            region.setBrush(pg.mkBrush(colour + "70"))
            region.setHoverBrush(pg.mkBrush(colour + "A0"))
            for line in region.lines:
                line.setPen(tier_pen(iv.kind, True, 3))
            if iv.slot != self.editing_slot:
                self._placing = True
                region.setRegion((iv.start, iv.end))
                self._placing = False

    def _moved(self, slot: int, region: pg.LinearRegionItem) -> None:
        if self._placing:
            return
        self.editing_slot = slot
        try:
            self.on_moved(slot, tuple(region.getRegion()))
        finally:
            self.editing_slot = None

    def clear(self) -> None:
        for region in self.regions.values():
            self.plot.removeItem(region)
        self.regions.clear()
