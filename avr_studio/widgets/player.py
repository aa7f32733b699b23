"""The player: the decoded frame, its own timestamp and the overlays for exactly that frame.

Frames come from the DecodeWorker (latest request wins); overlays are rendered when a frame is
presented, for that frame's timestamp (frame_time(frame_index_at(t))), never for the requested t.
"""

from __future__ import annotations

import html
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider

from avr_studio.models import Playhead, ScoreBoard, Selection, Session
from avr_studio.models.edits import with_box
from avr_studio.models.overlay import frame_boxes, selected_boxes, shown_frames
from avr_studio.palette import KIND_COLOURS, KIND_LABELS
from avr_studio.playback.decode_worker import DecodedFrame, DecodeWorker, VideoInfo
from avr_studio.widgets.item_layer import settle_scene
from avr_studio.widgets.labels import QuietLabel
from avr_studio.widgets.overlays import BoxOverlay, RunLayer
from engine.media.errors import MediaError

EMPTY_HINT = ("Open a benchmark: File > Open dataset, add prediction folders or JSONL,\n"
              "or drop them on this window.  (avr-studio --demo opens a generated one.)")


def legend_html(compare: bool = False) -> str:
    """Swatches for the outcome colours (our own fixed text, not model output)."""
    parts = [f"<span style='color:{KIND_COLOURS[k]}'>&#9632;</span>&nbsp;{html.escape(KIND_LABELS[k])}"
             for k in KIND_COLOURS]
    styles = "GT solid, A dashed, B dotted" if compare else "GT solid, prediction dashed"
    return styles + " &nbsp; " + " &nbsp; ".join(parts)


class Player(QWidget):
    """Subscribes to selection/playhead/scores; writes box drags to the Edits model."""

    status = Signal(str)
    video_info = Signal(object)  # VideoInfo or None
    frame_shown = Signal()  # a frame was presented (with its overlays)
    item_presented = Signal()  # the selected item is on screen: its frame, or the placeholder saying why not

    def __init__(self, session: Session, selection: Selection, playhead: Playhead, scores: ScoreBoard,
                 parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.playhead, self.scores = session, selection, playhead, scores
        self.path: Path | None = None
        self.info: VideoInfo | None = None
        self.presented: DecodedFrame | None = None
        self._overlay_key: tuple | None = None
        self._build()
        self.worker = DecodeWorker()
        self.worker.frame_ready.connect(self._on_frame)
        self.worker.opened.connect(self._on_opened)
        self.worker.failed.connect(self._on_failed)
        self.worker.start()
        # the item itself is opened by the window (`open_item`, then `present_if_current` once the
        # playhead is at the item's start): the order of the two matters
        selection.run_changed.connect(lambda _r: self.render_overlays())
        selection.compare_changed.connect(lambda _r: self.render_overlays())
        selection.compare_mode_changed.connect(self._on_compare_mode)
        selection.instance_changed.connect(lambda _ref: self._show_selected())
        session.videos_changed.connect(self.open_item)
        scores.changed.connect(lambda _r, _i: self.render_overlays())
        playhead.time_changed.connect(self.worker.request)

    def _build(self) -> None:
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#101215")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view = self.graphics.addViewBox()
        self.view.setAspectLocked(True)
        self.view.invertY(True)
        self.view.setMenuEnabled(False)
        self.view.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image)
        self.overlay = BoxOverlay(self.view, self._on_box_edited, self._on_box_drag_finished)
        self.compare_layers = {tag: RunLayer(self.view, tag) for tag in ("GT", "A", "B")}
        self.layer_bar = self._layer_controls()
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setObjectName("playerPlaceholder")
        self.placeholder.setTextFormat(Qt.TextFormat.PlainText)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.graphics)
        self.stack.addWidget(self.placeholder)
        self.clock_label = QuietLabel("no video")  # changes on every frame: never re-lays out the window
        self.clock_label.setObjectName("frameClock")
        self.legend = QLabel(legend_html())
        self.legend.setObjectName("legend")
        self.legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.layer_bar)
        self.info_bar = QHBoxLayout()  # the frame's own clock; the window adds the transport clock here
        self.info_bar.addWidget(self.clock_label, 1)
        layout.addLayout(self.info_bar)
        layout.addWidget(self.legend)
        self._show_placeholder(EMPTY_HINT)

    # ---- opening -------------------------------------------------------------------------
    def open_item(self) -> None:
        """Open the selected item's video. The same video: the frame on screen stays (with the old
        item's boxes) until the new item's frame arrives, when both change at once."""
        item = self.session.item(self.selection.item_index)
        path = self.session.video_path(item) if item else None
        if path == self.path and self.info is not None:
            return
        self.path, self.info, self.presented = path, None, None
        self.playhead.clear_media()  # the new item's times must not be clamped to the old video
        self.overlay.clear()
        self._overlay_key = None
        if path is None:
            self._show_placeholder(EMPTY_HINT if not self.session.items else "no item selected")
        elif not path.is_file():
            self._show_placeholder(f"video not found: {path}")
            self.playhead.mark_unplayable()
            self.status.emit(f"video not found: {path}")
            path = None
        self.worker.open(path)
        if path is None:
            self.video_info.emit(None)
            self.item_presented.emit()

    def present_if_current(self) -> None:
        """Called once the playhead is at the new item's start: where the frame on screen is already
        that frame (same video, same frame), no new frame comes, so the item's boxes go on it now."""
        frame, info = self.presented, self.info
        if frame is None or info is None or frame.path != self.path:
            return
        if frame.index == self._frame_index_or_none(self.playhead.time):
            self.render_overlays()
            self.item_presented.emit()

    def _on_opened(self, info: VideoInfo) -> None:
        if info.path != self.path:
            return
        self.info = info
        self.stack.setCurrentWidget(self.graphics)
        self.playhead.set_media(info.duration, info.fps, info.frame_index_at, info.frame_time)
        self.video_info.emit(info)
        self.worker.request(self.playhead.time)

    def _on_failed(self, path: str, message: str) -> None:
        if self.path is not None and Path(path) == self.path:
            if self.info is None:
                self._show_placeholder(message)
                self.playhead.mark_unplayable()
            self.status.emit(message)
            self.item_presented.emit()

    def _show_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)
        self.clock_label.setText("no video")

    # ---- presenting ----------------------------------------------------------------------
    def _on_frame(self, frame: DecodedFrame) -> None:
        try:
            if frame.path != self.path or self.info is None:
                return
            first = self.presented is None
            # levels=None: 8-bit RGB goes straight into a QImage; levels=(0, 255) would rescale every
            # pixel of a 720p frame in numpy on each paint (50-200 ms on 2 cores)
            self.image.setImage(frame.image, autoLevels=False, levels=None)
            self.presented = frame
            if first:
                h, w = frame.image.shape[:2]
                self.overlay.frame_width = float(w)
                for layer in self.compare_layers.values():
                    layer.frame_width = float(w)
                self.view.setRange(xRange=(0, w), yRange=(0, h), padding=0.0)
            self.clock_label.setText(
                f"{frame.time:9.3f} s   frame {frame.index + 1} / {self.info.frame_count}   "
                f"{self.info.fps:g} fps   overlays for this frame"
            )
            self.render_overlays()
            settle_scene(self.graphics)
        finally:
            self.worker.presented()
        self.frame_shown.emit()
        if self.presented is frame and frame.index == self._frame_index_or_none(self.playhead.time):
            self.item_presented.emit()  # the frame the item opens at (not a late one of the last request)

    def render_overlays(self) -> None:
        """Overlays of the presented frame (not of the requested time)."""
        item = self.session.item(self.selection.item_index)
        frame = self.presented
        if item is None or frame is None or self.info is None:
            self.overlay.clear()
            self._overlay_key = None
            return
        frames = shown_frames(item, frame.time, frame.index, self.info.fps, self._frame_index_or_none)
        score = self.scores.clue_score(self.selection.run_name, item.index)
        compare = self.selection.compare_mode
        b_score = self.scores.clue_score(self.selection.compare_name, item.index) if compare else None
        key = (item.index, self.selection.run_name, tuple(frames), score, compare, b_score)
        if key == self._overlay_key:
            return  # same boxes as on the previous frame: nothing to redraw while playing
        self._overlay_key = key
        if compare:
            self.overlay.clear()
            self.compare_layers["GT"].render([b for b in frame_boxes(item, None, frames) if b.role == "gt"])
            for tag, run_score in (("A", score), ("B", b_score)):
                self.compare_layers[tag].render([b for b in frame_boxes(item, run_score, frames) if b.role == "pred"]
                                                if run_score is not None else [])
            return
        for layer in self.compare_layers.values():
            layer.clear()
        self.overlay.render(frame_boxes(item, score, frames))
        self._show_selected()

    # ---- compare view layers ------------------------------------------------------------------
    def _layer_controls(self) -> QWidget:
        """Per run: shown or not, and opacity (A dashed, B dotted; GT solid, always shown)."""
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        self.layer_checks: dict[str, QCheckBox] = {}
        self.layer_sliders: dict[str, QLabeledDoubleSlider] = {}
        for tag, style in (("A", "dashed"), ("B", "dotted")):
            check = QCheckBox(f"{tag} ({style})")
            check.setChecked(True)
            check.toggled.connect(lambda on, t=tag: self.set_layer_visible(t, on))
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setRange(0.1, 1.0)
            slider.setValue(1.0)
            slider.setDecimals(1)
            slider.setToolTip(f"opacity of run {tag}'s boxes")
            slider.valueChanged.connect(lambda v, t=tag: self.set_layer_opacity(t, v))
            row.addWidget(check)
            row.addWidget(slider, 1)
            self.layer_checks[tag], self.layer_sliders[tag] = check, slider
        bar.hide()
        return bar

    def set_layer_visible(self, tag: str, visible: bool) -> None:
        self.compare_layers[tag].set_visible(visible)
        self.layer_checks[tag].blockSignals(True)
        self.layer_checks[tag].setChecked(visible)
        self.layer_checks[tag].blockSignals(False)

    def set_layer_opacity(self, tag: str, opacity: float) -> None:
        self.compare_layers[tag].set_opacity(opacity)

    def _on_compare_mode(self, on: bool) -> None:
        self.layer_bar.setVisible(on)
        self.legend.setText(legend_html(compare=on))
        self._overlay_key = None
        self.render_overlays()

    def _show_selected(self) -> None:
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        self.overlay.highlight(selected_boxes(self.overlay.boxes, score, self.selection.instance))

    def _frame_index_or_none(self, t: float) -> int | None:
        """The frame showing time t; None where the file is cut short before t (truncated video)."""
        try:
            return self.info.frame_index_at(t)
        except MediaError:
            return None

    def _on_box_edited(self, slot, box) -> None:
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        if score is None or score.parsed is None:
            return
        label, frame, position = slot
        edited = with_box(score.parsed, label, frame, position, box)
        self.scores.edits.set(self.selection.run_name, self.selection.item_index, edited, gesture=("box", slot))

    def _on_box_drag_finished(self) -> None:
        if self.selection.run_name is not None and self.selection.item_index is not None:
            self.scores.edits.end_gesture(self.selection.run_name, self.selection.item_index)

    def shutdown(self) -> None:
        self.worker.stop()
