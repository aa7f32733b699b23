"""The timeline (ELAN-style tiers): waveform from the envelope pyramid, a GT tier and one tier per
run with clue predictions, matched pairs linked with their tIoU, the query interval, the playhead.

The waveform is re-queried for the visible window at the plot's pixel width on every range change,
so zoom and pan stay smooth over an hour of audio; raw samples are never plotted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from avr_studio.models import Playhead, ScoreBoard, Selection, Session
from avr_studio.models.edits import with_interval
from avr_studio.models.overlay import OverlayInterval, event_intervals
from avr_studio.palette import (
    KIND_COLOURS,
    LABEL_BACKGROUND,
    PLAYHEAD,
    QUERY_SHADE,
    TEXT_ON_DARK,
    TRACK_BACKGROUND,
    WAVEFORM,
    kind_colour,
)
from avr_studio.playback.envelope_loader import EnvelopeLoader
from avr_studio.widgets.item_layer import ItemLayer
from engine.benchmark import Item
from engine.scoring import gt_frame_times

ROW_HEIGHT = 0.64
ZOOM_MARGIN = 0.25  # of the interval's length, each side, on double-click
LABEL_SPACING_PX = 70


class ScrubViewBox(pg.ViewBox):
    """The waveform's view: a left-button drag scrubs the playhead (the wheel still zooms,
    the right button still pans)."""

    def __init__(self, on_scrub, **kwargs) -> None:
        super().__init__(**kwargs)
        self.on_scrub = on_scrub

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            ev.accept()
            self.on_scrub(self.mapSceneToView(ev.scenePos()).x())
            return
        super().mouseDragEvent(ev, axis)


class Timeline(QWidget):
    status = Signal(str)

    def __init__(self, session: Session, selection: Selection, playhead: Playhead, scores: ScoreBoard,
                 parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.playhead, self.scores = session, selection, playhead, scores
        self.pyramid = None
        self.audio_path: Path | None = None
        self.rows: list[tuple[str, list[OverlayInterval]]] = []  # (tier name, intervals), GT first
        self.regions: dict[int, pg.LinearRegionItem] = {}  # slot -> editable predicted interval
        self._labels: list[pg.TextItem] = []  # tIoU labels, hidden where they would overlap
        self._loaders: list[EnvelopeLoader] = []
        self._editing_slot: int | None = None
        self._placing = False
        self.wave_queries = 0
        self._build()
        self.render_tiers()
        self.wave.setXRange(0, 10, padding=0)
        selection.item_changed.connect(lambda _i: self.show_item())
        selection.run_changed.connect(lambda _r: self.render_tiers())
        session.runs_changed.connect(self.render_tiers)
        session.videos_changed.connect(self._reload_waveform)
        scores.changed.connect(lambda _r, _i: self.render_tiers())
        playhead.time_changed.connect(self._move_playhead)
        playhead.media_changed.connect(self._on_media)

    # ---- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(TRACK_BACKGROUND)
        self.wave = self.graphics.addPlot(row=0, col=0, viewBox=ScrubViewBox(self.playhead.seek))
        self.tiers = self.graphics.addPlot(row=1, col=0)
        self._static = ItemLayer(self.tiers)  # tiers, links and labels redrawn per item
        self.graphics.ci.layout.setRowStretchFactor(0, 2)
        self.graphics.ci.layout.setRowStretchFactor(1, 3)
        self.tiers.setXLink(self.wave)
        for plot in (self.wave, self.tiers):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setMouseEnabled(x=True, y=False)
            plot.getAxis("left").setWidth(90)
            plot.showGrid(x=True, y=False, alpha=0.15)
        self.wave.hideAxis("bottom")
        self.wave.setYRange(-1, 1, padding=0.05)
        self.wave.getAxis("left").setTicks([[(0, "audio")]])
        self.tiers.setLabel("bottom", "time (s)")
        self.wave_curve = pg.PlotDataItem(pen=pg.mkPen(WAVEFORM, width=1))
        self.wave_curve.setDownsampling(auto=False, method="peak")  # data already arrives per pixel
        self.wave.addItem(self.wave_curve)
        self.no_audio = pg.TextItem("", color=TEXT_ON_DARK, anchor=(0, 0.5))
        self.wave.addItem(self.no_audio)
        self.query_regions = [self._query_region(plot) for plot in (self.wave, self.tiers)]
        self.playhead_lines = [self._playhead_line(plot) for plot in (self.wave, self.tiers)]
        self.wave.getViewBox().sigXRangeChanged.connect(lambda *_: self._requery_soon.start())
        self._requery_soon = QTimer(self)
        self._requery_soon.setSingleShot(True)
        self._requery_soon.setInterval(0)
        self._requery_soon.timeout.connect(self._on_range_changed)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

    def _query_region(self, plot) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(QUERY_SHADE), pen=pg.mkPen(None))
        region.setZValue(-20)
        region.hide()
        plot.addItem(region)
        return region

    def _playhead_line(self, plot) -> pg.InfiniteLine:
        line = pg.InfiniteLine(0, angle=90, movable=True, pen=pg.mkPen(PLAYHEAD, width=2),
                               hoverPen=pg.mkPen(PLAYHEAD, width=4))
        line.setZValue(50)
        line.sigDragged.connect(lambda item: self.playhead.seek(item.value()))
        plot.addItem(line)
        return line

    # ---- item ----------------------------------------------------------------------------
    def show_item(self) -> None:
        item = self.session.item(self.selection.item_index)
        for region in self.query_regions:
            region.setVisible(bool(item and item.query_interval))
            if item and item.query_interval:
                region.setRegion(item.query_interval)
        self._load_waveform(self.session.video_path(item) if item else None)
        self.render_tiers()
        self.show_item_range()

    def show_item_range(self) -> None:
        """Where the item's question is about: its query interval (else the whole video)."""
        item = self.session.item(self.selection.item_index)
        self.show_whole()
        if item is not None and item.query_interval and item.query_interval[1] > item.query_interval[0]:
            self.zoom_to(*item.query_interval, margin_fraction=0.04)

    def show_whole(self) -> None:
        end = self.playhead.duration or self._content_end()
        self.wave.setLimits(xMin=-1.0, xMax=end + 1.0)
        self.wave.setXRange(0, end, padding=0.01)

    def _content_end(self) -> float:
        ends = [iv.end for _name, row in self.rows for iv in row]
        item = self.session.item(self.selection.item_index)
        if item and item.query_interval:
            ends.append(item.query_interval[1])
        return max(ends, default=10.0)

    def _reload_waveform(self) -> None:
        """Another videos folder: the item's audio is somewhere else now."""
        item = self.session.item(self.selection.item_index)
        self._load_waveform(self.session.video_path(item) if item else None)

    def _on_media(self) -> None:
        self.show_item_range()

    # ---- waveform ------------------------------------------------------------------------
    def _load_waveform(self, path: Path | None) -> None:
        if path == self.audio_path:
            return
        self.audio_path, self.pyramid = path, None
        self.wave_curve.setData([], [])
        self.no_audio.setText("")
        if path is None or not path.is_file():
            return
        loader = EnvelopeLoader(path)
        loader.loaded.connect(self._on_envelope)
        loader.finished.connect(self._reap_loaders)
        self._loaders.append(loader)
        loader.start()

    def _reap_loaders(self) -> None:
        for loader in [loader for loader in self._loaders if loader.isFinished()]:
            self._loaders.remove(loader)
            loader.deleteLater()

    def _on_envelope(self, path: Path, pyramid, error: str) -> None:
        if path != self.audio_path:
            return
        self.pyramid = pyramid
        if pyramid is None:
            self.no_audio.setText(error or "no audio track")
            self.no_audio.setPos(self.wave.viewRange()[0][0], 0)
        self.requery_waveform()

    def _on_range_changed(self) -> None:
        self.declutter_labels()
        self.requery_waveform()

    def requery_waveform(self) -> None:
        """Min/max per screen pixel of the visible window, from the pyramid (never raw samples)."""
        if self.pyramid is None:
            return
        (t0, t1), _ = self.wave.viewRange()
        t0 = max(0.0, t0)
        t1 = min(t1, self.playhead.duration) if self.playhead.duration > 0 else t1
        n_pixels = max(16, int(self.wave.getViewBox().width()))
        if not t1 > t0:
            return
        times, mins, maxs = self.pyramid.query(t0, t1, n_pixels)
        self.wave_queries += 1
        peak = float(np.nanmax(np.abs(np.concatenate([mins, maxs])))) if np.isfinite(maxs).any() else 0.0
        scale = 0.95 / peak if peak > 0 else 1.0
        x = np.repeat(times, 2)
        y = np.empty(2 * len(times), dtype=np.float32)
        y[0::2], y[1::2] = mins * scale, maxs * scale
        finite = np.isfinite(y)
        self.wave_curve.setData(x[finite], y[finite])

    # ---- tiers ---------------------------------------------------------------------------
    def render_tiers(self) -> None:
        item = self.session.item(self.selection.item_index)
        self._static.clear()
        self._labels.clear()
        runs = [run for run in self.session.runs if run.has_clues]
        names = ["GT", *[run.name for run in runs]]
        self.tiers.setYRange(0, len(names), padding=0)
        ticks = [(len(names) - r - 0.5, name if len(name) <= 12 else name[:11] + "…") for r, name in enumerate(names)]
        self.tiers.getAxis("left").setTicks([ticks])
        self.rows = []
        if item is None:
            self._clear_regions()
            return
        if item.category == "event":
            self._render_event_tiers(item, runs, len(names))
        else:
            self._clear_regions()
            self._render_frame_ticks(item, runs, len(names))

    def _row_y(self, row: int, n_rows: int) -> float:
        """Bottom of a tier (row 0 = GT, drawn on top)."""
        return n_rows - row - 0.5 - ROW_HEIGHT / 2

    def _render_event_tiers(self, item: Item, runs, n_rows: int) -> None:
        active_score = self.scores.clue_score(self.selection.run_name, item.index)
        gt_rows, _ = event_intervals(item, active_score)  # GT coloured by the shown run's outcome
        self.rows.append(("GT", gt_rows))
        self._add_bars(gt_rows, 0, n_rows, dashed=False)
        active_row = None
        for r, run in enumerate(runs, start=1):
            score = self.scores.clue_score(run.name, item.index)
            _, preds = event_intervals(item, score)
            self.rows.append((run.name, preds))
            self._note_failure(score, r, n_rows)
            if run.name == self.selection.run_name:
                active_row = r
                self._sync_regions(preds, r, n_rows)
                self._add_links(preds, r, n_rows)  # links of the shown run only: others would cross tiers
            else:
                self._add_bars(preds, r, n_rows, dashed=True)
        if active_row is None:
            self._clear_regions()
        self.declutter_labels()

    def _add_bars(self, intervals: list[OverlayInterval], row: int, n_rows: int, dashed: bool) -> None:
        if not intervals:
            return
        y0 = self._row_y(row, n_rows)
        brushes = [pg.mkBrush(kind_colour(iv.kind) + ("80" if dashed else "C0")) for iv in intervals]
        pens = [self._pen(iv.kind, dashed) for iv in intervals]
        bars = pg.BarGraphItem(x0=[iv.start for iv in intervals], x1=[iv.end for iv in intervals],
                               y0=y0, height=ROW_HEIGHT, brushes=brushes, pens=pens)
        self._static.add(bars)

    @staticmethod
    def _pen(kind: str, dashed: bool, width: float = 2):
        pen = pg.mkPen(kind_colour(kind), width=width)
        if dashed:
            pen.setStyle(pg.QtCore.Qt.PenStyle.DashLine)
        return pen

    def _add_links(self, preds: list[OverlayInterval], row: int, n_rows: int) -> None:
        """A line from each prediction to the GT it matched, labelled with the engine's tIoU."""
        top_of_pred = self._row_y(row, n_rows) + ROW_HEIGHT
        bottom_of_gt = self._row_y(0, n_rows)
        for iv in preds:
            if iv.partner is None or iv.iou is None:
                continue
            xp, xg = (iv.start + iv.end) / 2, (iv.partner[0] + iv.partner[1]) / 2
            link = pg.PlotCurveItem([xp, xg], [top_of_pred, bottom_of_gt], pen=self._pen(iv.kind, False, 1))
            self._static.add(link)
            label = pg.TextItem(f"tIoU {iv.iou:.2f}", color=TEXT_ON_DARK, fill=pg.mkBrush(LABEL_BACKGROUND),
                                anchor=(0.5, 0.5))
            label.setPos((xp + xg) / 2, (top_of_pred + bottom_of_gt) / 2)
            label.setZValue(40)
            self._static.add(label)
            self._labels.append(label)

    def _sync_regions(self, preds: list[OverlayInterval], row: int, n_rows: int) -> None:
        """Movable regions for the shown run's predictions; kept across re-scores so drags continue."""
        if {iv.slot for iv in preds} != set(self.regions):
            self._clear_regions()
        bottom = self._row_y(row, n_rows) / n_rows
        span = (bottom, bottom + ROW_HEIGHT / n_rows)
        for iv in preds:
            region = self.regions.get(iv.slot)
            if region is None:
                region = pg.LinearRegionItem((iv.start, iv.end), movable=True, span=span, swapMode="sort")
                region.setZValue(30)
                region.sigRegionChanged.connect(lambda reg, s=iv.slot: self._region_moved(s, reg))
                self.tiers.addItem(region)
                self.regions[iv.slot] = region
            region.span = span
            for line in region.lines:
                line.setSpan(*span)
            region.update()
            colour = kind_colour(iv.kind)
            region.setBrush(pg.mkBrush(colour + "70"))
            region.setHoverBrush(pg.mkBrush(colour + "A0"))
            for line in region.lines:
                line.setPen(self._pen(iv.kind, True, 3))
            if iv.slot != self._editing_slot:
                self._placing = True
                region.setRegion((iv.start, iv.end))
                self._placing = False

    def _region_moved(self, slot: int, region: pg.LinearRegionItem) -> None:
        if self._placing:
            return
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        if score is None or score.parsed is None or slot >= len(score.parsed.intervals):
            return
        self._editing_slot = slot
        try:
            edited = with_interval(score.parsed, slot, tuple(region.getRegion()))
            self.scores.edits.set(self.selection.run_name, self.selection.item_index, edited)
        finally:
            self._editing_slot = None

    def _render_frame_ticks(self, item: Item, runs, n_rows: int) -> None:
        """Object/attribute items: GT frame timestamps as ticks; per run, ticks on the GT frames it
        predicted boxes for, coloured by the frame's outcome."""
        times = gt_frame_times(item)
        self._add_ticks(times, [kind_colour("gt")] * len(times), 0, n_rows)
        self.rows.append(("GT", [OverlayInterval("gt", "gt", t, t, f"Frame{k + 1}") for k, t in enumerate(times)]))
        for r, run in enumerate(runs, start=1):
            score = self.scores.clue_score(run.name, item.index)
            frames = [f for c in (score.clusters if score else ()) for f in c.frames if f.timestamp is not None]
            colours = [kind_colour("missed" if f.n_pred == 0 else "hallucinated" if f.n_gt == 0
                                   else "matched" if f.score >= 0.5 else "mislocalised") for f in frames]
            self._add_ticks([f.timestamp for f in frames], colours, r, n_rows)
            self._note_failure(score, r, n_rows)
            self.rows.append((run.name, []))

    def _note_failure(self, score, row: int, n_rows: int) -> None:
        """A tier whose answer could not be read says so, with the engine's reason."""
        if score is None:
            text = "no clue prediction for this item"
        elif score.failed:
            text = f"answer unreadable: {score.reason}"
        else:
            return
        label = pg.TextItem(text, color=KIND_COLOURS["missed"], anchor=(0, 0.5))
        label.setPos(max(0.0, self.wave.viewRange()[0][0]), self._row_y(row, n_rows) + ROW_HEIGHT / 2)
        self._static.add(label)

    def _add_ticks(self, times: list[float], colours: list[str], row: int, n_rows: int) -> None:
        if not times:
            return
        y = self._row_y(row, n_rows) + ROW_HEIGHT / 2
        ticks = pg.ScatterPlotItem(x=times, y=[y] * len(times), symbol="|", size=26,
                                   pen=[pg.mkPen(c, width=3) for c in colours], brush=None)
        self._static.add(ticks)

    def declutter_labels(self) -> None:
        """Show a tIoU label only where it does not overlap the one before it (per tier row)."""
        (x0, x1), _ = self.tiers.viewRange()
        width = max(1.0, self.tiers.getViewBox().width())
        last_px: dict[float, float] = {}
        for label in sorted(self._labels, key=lambda lab: lab.pos().x()):
            row, px = label.pos().y(), (label.pos().x() - x0) / (x1 - x0) * width if x1 > x0 else 0.0
            visible = px - last_px.get(row, -1e9) >= LABEL_SPACING_PX
            label.setVisible(visible)
            if visible:
                last_px[row] = px

    def _clear_regions(self) -> None:
        for region in self.regions.values():
            self.tiers.removeItem(region)
        self.regions.clear()

    def _move_playhead(self, t: float) -> None:
        for line in self.playhead_lines:
            line.blockSignals(True)
            line.setValue(t)
            line.blockSignals(False)

    # ---- mouse ---------------------------------------------------------------------------
    def _on_click(self, event) -> None:
        for plot in (self.wave, self.tiers):
            vb = plot.getViewBox()
            if not vb.sceneBoundingRect().contains(event.scenePos()):
                continue
            point = vb.mapSceneToView(event.scenePos())
            if event.double():
                self.zoom_to_interval_at(point.x(), point.y() if plot is self.tiers else None)
            else:
                self.playhead.seek(point.x())
            event.accept()
            return

    def zoom_to_interval_at(self, x: float, y: float | None) -> bool:
        """Double-click: zoom to the interval under the pointer (its tier), else the query interval."""
        n_rows = max(1, len(self.rows))
        candidates = self.rows
        if y is not None:
            row = int(n_rows - y)
            candidates = [self.rows[row]] if 0 <= row < len(self.rows) else []
        for _name, intervals in candidates:
            for iv in intervals:
                if iv.start <= x <= iv.end and iv.end > iv.start:
                    self.zoom_to(iv.start, iv.end)
                    return True
        item = self.session.item(self.selection.item_index)
        if item and item.query_interval and item.query_interval[0] <= x <= item.query_interval[1]:
            self.zoom_to(*item.query_interval, margin_fraction=0.04)
            return True
        return False

    def zoom_to(self, start: float, end: float, margin_fraction: float = ZOOM_MARGIN) -> None:
        margin = max(0.5, (end - start) * margin_fraction)
        self.wave.setXRange(start - margin, end + margin, padding=0)

    def shutdown(self) -> None:
        for loader in self._loaders:
            loader.wait(10000)
            loader.loaded.disconnect(self._on_envelope)
            loader.deleteLater()
        self._loaders.clear()
