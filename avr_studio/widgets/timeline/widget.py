"""The timeline widget: the audio track above the tiers, the query interval, the loop range and the
playhead over both. Single-run view: GT then one tier per run (the shown run editable, with its tIoU
links). Compare view: A above GT above B, both linked to GT, markers where their outcomes differ."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from superqt import QLabeledDoubleRangeSlider

from avr_studio.models import Playhead, ScoreBoard, Selection, Session
from avr_studio.models.edits import with_interval
from avr_studio.models.overlay import (
    OverlayInterval,
    event_intervals,
    gt_frame_ticks,
    pred_frame_ticks,
)
from avr_studio.palette import DIFFERENCE, LOOP_SHADE, PLAYHEAD, QUERY_SHADE, TEXT_ON_DARK, TRACK_BACKGROUND
from avr_studio.widgets.item_layer import ItemPool, settle_scene
from avr_studio.widgets.spectrogram_tier import SpectrogramTier
from avr_studio.widgets.timeline.edit_handles import IntervalHandles
from avr_studio.widgets.timeline.tiers import ROW_HEIGHT, TierPainter
from avr_studio.widgets.timeline.waveform import ScrubViewBox, WaveformTrack
from engine.benchmark import Item

ZOOM_MARGIN = 0.25  # of the interval's length, each side, on double-click
#: A new item's tiers are drawn when the window says its frame is on screen, else after this long.
ITEM_FALLBACK_MS = 250


class Timeline(QWidget):
    status = Signal(str)

    def __init__(self, session: Session, selection: Selection, playhead: Playhead, scores: ScoreBoard,
                 parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.playhead, self.scores = session, selection, playhead, scores
        self._rows: list[tuple[str, list[OverlayInterval]]] = []  # (tier name, intervals), top to bottom
        self._differences: list[float] = []  # compare view: times where A's and B's outcomes differ
        self._outside_query: int = 0  # clue instances outside the item's query interval
        self.shown_index: int | None = None  # the item whose range, waveform and tiers are drawn
        # A new item is drawn once its frame is on screen: the window calls `flush()` then (the frame
        # and the breakdown tree show first); the fallback timer draws it if nobody does. Other
        # changes (run, compare view, re-scores) mark the tiers dirty: drawn once per event-loop turn,
        # however many signals asked. Reading the drawn state (`rows`, `painter`...) draws first.
        self._item_pending = False
        self._tiers_dirty = False
        self._item_fallback = QTimer(self)
        self._item_fallback.setSingleShot(True)
        self._item_fallback.setInterval(ITEM_FALLBACK_MS)
        self._item_fallback.timeout.connect(self.flush)
        self._tiers_soon = QTimer(self)
        self._tiers_soon.setSingleShot(True)
        self._tiers_soon.setInterval(0)
        self._tiers_soon.timeout.connect(self.flush)
        self._build()
        self.render_tiers()
        self.wave.setXRange(0, 10, padding=0)
        selection.item_changed.connect(lambda _i: self.schedule_item())
        selection.run_changed.connect(lambda _r: self.schedule_tiers())
        selection.compare_changed.connect(lambda _r: self.schedule_tiers())
        selection.compare_mode_changed.connect(lambda _on: self.schedule_tiers())
        selection.instance_changed.connect(lambda _ref: self._show_instance())
        session.runs_changed.connect(self.schedule_tiers)
        session.videos_changed.connect(self._reload_waveform)
        scores.changed.connect(lambda _r, _i: self.schedule_tiers())
        playhead.time_changed.connect(self._move_playhead)
        playhead.media_changed.connect(self._on_media)
        playhead.loop_changed.connect(self._show_loop)

    # ---- what is drawn (reading it draws what is pending first) ----------------------------------
    @property
    def pending(self) -> bool:
        """Something is waiting to be drawn (a new item, or tiers marked dirty)."""
        return self._item_pending or self._tiers_dirty

    @property
    def rows(self) -> list[tuple[str, list[OverlayInterval]]]:
        self.flush()
        return self._rows

    @property
    def differences(self) -> list[float]:
        self.flush()
        return self._differences

    @property
    def outside_query(self) -> int:
        self.flush()
        return self._outside_query

    @property
    def painter(self) -> TierPainter:
        self.flush()
        return self._painter

    # ---- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(TRACK_BACKGROUND)
        self.wave = self.graphics.addPlot(row=0, col=0, viewBox=ScrubViewBox(self.playhead.seek))
        self.spectrogram = SpectrogramTier(viewBox=ScrubViewBox(self.playhead.seek))
        self.graphics.addItem(self.spectrogram, row=1, col=0)
        self.tiers = self.graphics.addPlot(row=2, col=0)
        self._painter = TierPainter(self.tiers)
        self.handles = IntervalHandles(self.tiers, self._region_moved, self._region_drag_finished)
        self._highlight = ItemPool(self.tiers)
        self.graphics.ci.layout.setRowStretchFactor(0, 2)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.graphics.ci.layout.setRowStretchFactor(2, 3)
        self.tiers.setXLink(self.wave)
        self.spectrogram.setXLink(self.wave)
        self.spectrogram.getAxis("left").setWidth(90)
        self.spectrogram.hideAxis("bottom")
        self.spectrogram.set_enabled(False)  # a toggle: View > Spectrogram
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
        self.track = WaveformTrack(self.wave, lambda: self.playhead.duration)
        self.query_regions = [self._shade(plot, QUERY_SHADE, -20) for plot in (self.wave, self.tiers)]
        self.loop_regions = [self._shade(plot, LOOP_SHADE, -15) for plot in (self.wave, self.tiers)]
        self.playhead_lines = [self._playhead_line(plot) for plot in (self.wave, self.spectrogram, self.tiers)]
        self.wave.getViewBox().sigXRangeChanged.connect(lambda *_: self._requery_soon.start())
        self._requery_soon = QTimer(self)
        self._requery_soon.setSingleShot(True)
        self._requery_soon.setInterval(0)
        self._requery_soon.timeout.connect(self._on_range_changed)
        self.graphics.scene().sigMouseClicked.connect(self._on_click)
        # the visible window as a labelled range slider: read it, or type/drag a window precisely
        self.window_slider = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.window_slider.setDecimals(2)
        self.window_slider.setToolTip("visible part of the timeline (s): drag the handles or type a time")
        self.window_slider.valueChanged.connect(self._on_window_slider)
        self.wave.getViewBox().sigXRangeChanged.connect(lambda *_: self._show_window())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.window_slider)

    def _show_window(self) -> None:
        (t0, t1), _ = self.wave.viewRange()
        end = max(self.playhead.duration or self._content_end(), t1, 1.0)
        value = (max(0.0, t0), min(end, t1))
        slider = self.window_slider
        slider.blockSignals(True)
        if slider.maximum() != end or slider.minimum() != 0.0:  # re-measures its labels: only when it changed
            slider.setRange(0.0, end)
        if tuple(slider.value()) != value:
            slider.setValue(value)
        slider.blockSignals(False)

    def _on_window_slider(self, value) -> None:
        t0, t1 = value
        if t1 > t0:
            self.wave.setXRange(t0, t1, padding=0)

    @staticmethod
    def _shade(plot, colour, z: float) -> pg.LinearRegionItem:
        region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(colour), pen=pg.mkPen(None))
        region.setZValue(z)
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

    # ---- waveform (delegated) ----------------------------------------------------------------
    @property
    def pyramid(self):
        return self.track.pyramid

    @property
    def audio_path(self):
        return self.track.audio_path

    @property
    def wave_curve(self):
        return self.track.curve

    @property
    def wave_queries(self) -> int:
        return self.track.queries

    @property
    def _loaders(self):
        return self.track.loaders

    @property
    def regions(self):
        self.flush()
        return self.handles.regions

    def _row_y(self, row: int, n_rows: int) -> float:
        return n_rows - row - 0.5 - ROW_HEIGHT / 2

    def _reload_waveform(self) -> None:
        """Another videos folder: the item's audio is somewhere else now."""
        item = self.session.item(self.selection.item_index)
        self.track.load(self.session.video_path(item) if item else None)
        self.spectrogram.set_media(self.session.video_path(item) if item else None)

    # ---- item ----------------------------------------------------------------------------
    def schedule_item(self) -> None:
        """The selected item changed: draw it on `flush()` (or after ITEM_FALLBACK_MS)."""
        self._item_pending = True
        self._item_fallback.start()

    def schedule_tiers(self) -> None:
        """Redraw the tiers once this event-loop turn ends (however many changes asked for it)."""
        self._tiers_dirty = True
        self._tiers_soon.start()

    def flush(self) -> None:
        """Draw what is pending now: the new item (range, waveform, tiers) or dirty tiers."""
        if self._item_pending:
            self.show_item()
        elif self._tiers_dirty:
            self.render_tiers()
        else:
            return
        settle_scene(self.graphics)

    def show_item(self) -> None:
        self._item_pending = False
        self._item_fallback.stop()
        item = self.session.item(self.selection.item_index)
        self.shown_index = item.index if item else None
        for region in self.query_regions:
            region.setVisible(bool(item and item.query_interval))
            if item and item.query_interval:
                region.setRegion(item.query_interval)
        self.track.load(self.session.video_path(item) if item else None)
        self.spectrogram.set_media(self.session.video_path(item) if item else None)
        self.render_tiers()
        self.show_item_range()
        self._move_playhead(self.playhead.time)
        self.spectrogram.requery_now()

    def show_item_range(self) -> None:
        """Where the item's question is about: its query interval, widened to every clue (a clue
        outside the query interval is shown, and counted in a note), else the whole video. The view
        moves once, and only if it is not there already (each move redraws the linked plots)."""
        item = self.session.item(self.selection.item_index)
        end = self._set_limits()
        target = (0.0, end, 0.01)
        if item is not None and item.query_interval and item.query_interval[1] > item.query_interval[0]:
            start, stop = item.query_interval
            outside = clues_outside_query(item)
            if outside:
                spans = _clue_spans(item)
                start, stop = min(start, *(s[0] for s in spans)), max(stop, *(s[1] for s in spans))
                self.status.emit(f"item {item.index}: {len(outside)} clue(s) lie outside the query interval")
            margin = max(0.5, (stop - start) * 0.04)
            target = (start - margin, stop + margin, 0.0)
        self._move_view(*target)

    def show_whole(self) -> None:
        end = self._set_limits()
        self._move_view(0.0, end, 0.01)

    def _set_limits(self) -> float:
        """Pan limits of the video (or the item's content while its video is opening); its end."""
        end = self.playhead.duration or self._content_end()
        if (end, "limits") != getattr(self, "_limits", None):
            self._limits = (end, "limits")
            self.wave.setLimits(xMin=-1.0, xMax=end + 1.0)
        return end

    def _move_view(self, x0: float, x1: float, padding: float) -> None:
        if (x0, x1, padding) == getattr(self, "_view_target", None) and self._view_at_target():
            return
        self.wave.setXRange(x0, x1, padding=padding)
        self._view_target, self._view_range = (x0, x1, padding), tuple(self.wave.viewRange()[0])
        self._requery_soon.stop()  # requeried now: drawn in the same repaint as the move
        self._on_range_changed()

    def _view_at_target(self) -> bool:
        return tuple(self.wave.viewRange()[0]) == getattr(self, "_view_range", None)

    def _content_end(self) -> float:
        ends = [iv.end for _name, row in self._rows for iv in row]
        item = self.session.item(self.selection.item_index)
        if item is not None:
            ends.extend(s[1] for s in _clue_spans(item))
            if item.query_interval:
                ends.append(item.query_interval[1])
        return max(ends, default=10.0)

    def _on_media(self) -> None:
        if not self._item_pending:  # a pending item gets its range when it is drawn
            self.show_item_range()

    def _on_range_changed(self) -> None:
        self._painter.on_range_changed()
        self.track.place_note()
        self.track.requery()

    def requery_waveform(self) -> None:
        self.track.requery()

    def declutter_labels(self) -> None:
        self._painter.declutter_labels()

    # ---- tiers ---------------------------------------------------------------------------
    def tier_plan(self) -> tuple[list[tuple[str, str | None]], int]:
        """(tier name, run name or None for GT) top to bottom, and the GT row."""
        a, b = self.session.run(self.selection.run_name), self.session.run(self.selection.compare_name)
        if self.selection.compare_mode and a is not None and b is not None:
            return [(f"A {a.name}", a.name), ("GT", None), (f"B {b.name}", b.name)], 1
        runs = [run for run in self.session.runs if run.has_clues]
        return [("GT", None), *[(run.name, run.name) for run in runs]], 0

    def render_tiers(self) -> None:
        self._tiers_dirty = False
        self._tiers_soon.stop()
        item = self.session.item(self.selection.item_index)
        plan, gt_row = self.tier_plan()
        painter = self._painter
        painter.reset([name for name, _run in plan])
        self._rows, self._differences = [], []
        if item is None:
            painter.finish()
            self.handles.clear()
            self._highlight.clear()
            self._outside_query = 0
            return
        if item.category == "event":
            self._render_event_tiers(item, plan, gt_row)
        else:
            self.handles.clear()
            self._render_frame_tiers(item, plan, gt_row)
        self._outside_query = len(clues_outside_query(item))
        if self._outside_query:
            painter.note(f"{self._outside_query} clue(s) outside the query interval", gt_row, TEXT_ON_DARK)
        painter.finish()
        self._show_instance()

    def _compare_view(self, plan) -> bool:
        return plan[0][1] is not None

    def _render_event_tiers(self, item: Item, plan, gt_row: int) -> None:
        compare = self._compare_view(plan)
        shown = self.scores.clue_score(self.selection.run_name, item.index)
        gt_rows, _ = event_intervals(item, None if compare else shown)  # compare: GT neutral
        edited = False
        for row, (name, run_name) in enumerate(plan):
            if run_name is None:
                self._rows.append(("GT", gt_rows))
                self._painter.bars(gt_rows, row, dashed=False)
                continue
            score = self.scores.clue_score(run_name, item.index)
            _, preds = event_intervals(item, score)
            self._rows.append((name, preds))
            self._note_failure(score, row)
            if run_name == self.selection.run_name or compare:
                self._painter.links(preds, row, gt_row)
            if run_name == self.selection.run_name:
                edited = True
                self.handles.sync(preds, self._painter.span(row))
            else:
                self._painter.bars(preds, row, dashed=True)
        if not edited:
            self.handles.clear()
        if compare:
            self._differences = self._event_differences(item)
            self._painter.markers(self._differences, gt_row)

    def _event_differences(self, item: Item) -> list[float]:
        """GT instances whose outcome differs between A and B (a failed answer misses every GT)."""
        kinds = []
        for run_name in (self.selection.run_name, self.selection.compare_name):
            score = self.scores.clue_score(run_name, item.index)
            gt_rows, _ = event_intervals(item, score)
            by_name = {iv.name: ("missed" if iv.kind == "gt" else iv.kind) for iv in gt_rows}
            kinds.append(by_name)
        return [(c.start + c.end) / 2 for g, c in enumerate(item.clue)
                if kinds[0].get(f"g{g + 1}", "missed") != kinds[1].get(f"g{g + 1}", "missed")]

    def _render_frame_tiers(self, item: Item, plan, gt_row: int) -> None:
        """GT frames per cluster, coloured by the shown run's frame outcome (the engine's); per run,
        the frames it predicted boxes on; frames with no GT time are counted in a note."""
        compare = self._compare_view(plan)
        n_clusters = len(item.clue) if item.category == "attribute" else 1
        shown = self.scores.clue_score(self.selection.run_name, item.index)
        for row, (name, run_name) in enumerate(plan):
            if run_name is None:
                ticks = gt_frame_ticks(item, None if compare else shown)
                self._painter.ticks(ticks, row, n_clusters)
                self._rows.append(("GT", [OverlayInterval("gt", t.kind, t.time, t.time, f"Frame {t.frame + 1}")
                                         for t in ticks]))
                continue
            score = self.scores.clue_score(run_name, item.index)
            untimed = self._painter.ticks(pred_frame_ticks(score), row, n_clusters)
            if not self._note_failure(score, row) and untimed:
                self._painter.note(f"+{len(untimed)} predicted frame(s) with no GT time (hallucinated)", row)
            self._rows.append((name, []))
        if compare:
            a = gt_frame_ticks(item, self.scores.clue_score(self.selection.run_name, item.index))
            b = gt_frame_ticks(item, self.scores.clue_score(self.selection.compare_name, item.index))
            self._differences = sorted({ta.time for ta, tb in zip(a, b, strict=True) if ta.kind != tb.kind})
            self._painter.markers(self._differences, gt_row)

    def _note_failure(self, score, row: int) -> bool:
        """A tier whose answer could not be read says so, with the engine's reason."""
        if score is None:
            text = "no clue prediction for this item"
        elif score.failed:
            text = f"answer unreadable: {score.reason}"
        else:
            return False
        self._painter.note(text if len(text) <= 160 else text[:159] + "…", row)
        return True

    def _region_moved(self, slot: int, interval: tuple[float, float]) -> None:
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        if score is None or score.parsed is None or slot >= len(score.parsed.intervals):
            return
        edited = with_interval(score.parsed, slot, interval)
        self.scores.edits.set(self.selection.run_name, self.selection.item_index, edited, gesture=("interval", slot))

    def _region_drag_finished(self) -> None:
        if self.selection.run_name is not None and self.selection.item_index is not None:
            self.scores.edits.end_gesture(self.selection.run_name, self.selection.item_index)

    # ---- selection, loop, playhead -----------------------------------------------------------
    def _show_instance(self) -> None:
        """The WCS row picked in the panel, outlined on the tiers (its GT and predicted interval,
        or its frame's time)."""
        self._highlight.begin()
        for start, end in self.instance_spans():
            if end - start <= 0:
                self._highlight.take("line", _instance_line).setValue(start)
            else:
                self._highlight.take("span", _instance_span).setRegion((start, end))
        self._highlight.end()

    def instance_spans(self) -> list[tuple[float, float]]:
        ref = self.selection.instance
        item = self.session.item(self.selection.item_index)
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        if ref is None or item is None or score is None or ref.cluster >= len(score.clusters):
            return []
        frames = score.clusters[ref.cluster].frames
        if ref.frame >= len(frames):
            return []
        frame = frames[ref.frame]
        if item.category != "event":
            return [(frame.timestamp, frame.timestamp)] if frame.timestamp is not None else []
        if ref.match is None or ref.match >= len(frame.matches):
            return []
        match = frame.matches[ref.match]
        spans = []
        if match.gt is not None and match.gt < len(item.clue):
            spans.append((item.clue[match.gt].start, item.clue[match.gt].end))
        if match.pred is not None and score.parsed is not None and match.pred < len(score.parsed.intervals):
            s, e = score.parsed.intervals[match.pred]
            spans.append((float(min(s, e)), float(max(s, e))))
        return spans

    def _show_loop(self, loop) -> None:
        for region in self.loop_regions:
            region.setVisible(loop is not None)
            if loop is not None:
                region.setRegion(loop)

    def _move_playhead(self, t: float) -> None:
        if self._item_pending:  # moved with the rest of the new item (one repaint, not two)
            return
        for line in self.playhead_lines:
            line.blockSignals(True)
            line.setValue(t)
            line.blockSignals(False)

    # ---- mouse ---------------------------------------------------------------------------
    def _on_click(self, event) -> None:
        for plot in (self.wave, self.spectrogram, self.tiers):
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

    def show_spectrogram(self, on: bool) -> None:
        """The spectrogram tier (toggle): computed for the visible range only while shown."""
        self.spectrogram.set_enabled(on)

    def shutdown(self) -> None:
        for timer in (self._item_fallback, self._tiers_soon, self._requery_soon):
            timer.stop()
        self.track.shutdown()
        self.spectrogram.shutdown()


def clues_outside_query(item: Item) -> list[tuple[float, float]]:
    """Clue instances (as spans) that reach outside the item's query interval."""
    if not item.query_interval:
        return []
    start, end = item.query_interval
    return [s for s in _clue_spans(item) if s[0] < start or s[1] > end]


def _clue_spans(item: Item) -> list[tuple[float, float]]:
    """Every clue instance as (start, end): event intervals, or box moments (start == end)."""
    if item.category == "event":
        return [(c.start, c.end) for c in item.clue]
    return [(t, t) for t in item.clue_times]


def _instance_line() -> pg.InfiniteLine:
    line = pg.InfiniteLine(0.0, angle=90, pen=pg.mkPen(DIFFERENCE, width=1, style=Qt.PenStyle.DotLine))
    line.setZValue(35)
    return line


def _instance_span() -> pg.LinearRegionItem:
    span = pg.LinearRegionItem((0.0, 1.0), movable=False, brush=pg.mkBrush(255, 255, 255, 40),
                               pen=pg.mkPen(DIFFERENCE, width=2))
    span.setZValue(25)
    return span
