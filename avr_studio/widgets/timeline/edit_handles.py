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
    """Regions by slot (position in the prediction's interval list); a drag calls `on_moved(slot, (s, e))`.
    Regions are kept across items (hidden when unused): building one costs more than moving it."""

    def __init__(self, plot: pg.PlotItem, on_moved: Callable[[int, tuple[float, float]], None],
                 on_finished: Callable[[], None] = lambda: None) -> None:
        self.plot = plot
        self.on_moved = on_moved
        self.on_finished = on_finished
        self.regions: dict[int, pg.LinearRegionItem] = {}
        self.editing_slot: int | None = None
        self._placing = False
        self._spare: list[pg.LinearRegionItem] = []
        self._slot_of: dict[int, int] = {}  # id(region) -> the slot it edits now
        self._look: dict[int, tuple] = {}  # id(region) -> (kind, span) it is drawn with

    def sync(self, preds: list[OverlayInterval], span: tuple[float, float]) -> None:
        """Regions for these predictions, spanning the tier (fractions of the plot's height)."""
        if {iv.slot for iv in preds} != set(self.regions):
            self.clear()
        for iv in preds:
            region = self.regions.get(iv.slot)
            if region is None:
                region = self._spare.pop() if self._spare else self._new_region()
                self._slot_of[id(region)] = iv.slot
                self.regions[iv.slot] = region
                region.show()
            look = (iv.kind, tuple(span))
            if self._look.get(id(region)) != look:
                self._look[id(region)] = look
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

    def _new_region(self) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem((0.0, 1.0), movable=True, swapMode="sort")
        region.setZValue(30)
        region.sigRegionChanged.connect(lambda reg: self._moved(self._slot_of[id(reg)], reg))
        region.sigRegionChangeFinished.connect(lambda _reg: self.on_finished())
        self.plot.addItem(region)
        return region

    def _moved(self, slot: int, region: pg.LinearRegionItem) -> None:
        if self._placing or self.regions.get(slot) is not region:
            return
        self.editing_slot = slot
        try:
            self.on_moved(slot, tuple(region.getRegion()))
        finally:
            self.editing_slot = None

    def clear(self) -> None:
        for region in self.regions.values():
            region.hide()
            self._spare.append(region)
        self.regions.clear()
