"""The spectrogram tier: mel power of the visible range, beside the waveform (a toggle).

A pyqtgraph PlotItem the timeline hosts under its waveform (x-linked to it). Each time the visible
range settles, the range is asked of `engine.media.spectrogram` on a worker thread at about one
column per pixel; only the newest request is drawn, older ones are dropped, and nothing is computed
while the tier is hidden. Frequencies run low to high, labelled in Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QTimer, Signal
from superqt.utils import WorkerBase, create_worker

from avr_studio.palette import TEXT_ON_DARK
from avr_studio.playback.decode_worker import lower_this_thread_priority
from engine.media.spectrogram import BIN_HZ, Spectrogram, SpectrogramSource, open_spectrogram

DYNAMIC_RANGE_DB = 80.0
FREQUENCY_TICKS_HZ = (100, 440, 1760, 5000)  # evenly spread on the mel axis; the beeps' pitches
REQUERY_DELAY_MS = 60
QWIDGETSIZE_MAX = 16777215


@dataclass(frozen=True)
class RangeRequest:
    serial: int
    path: Path
    start: float
    end: float
    columns: int


def colour_indices(db: np.ndarray) -> np.ndarray:
    """dB as 0..255 colour-map indices over the top DYNAMIC_RANGE_DB (done on the worker thread:
    the image then goes to the screen through the map's table, with no per-pixel scaling there)."""
    if not db.size:
        return np.zeros(db.shape, dtype=np.uint8)
    top = float(db.max())
    scaled = (db - (top - DYNAMIC_RANGE_DB)) * (255.0 / DYNAMIC_RANGE_DB)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def frequency_ticks(bin_hz: np.ndarray = BIN_HZ) -> list[tuple[float, str]]:
    """Axis ticks at round frequencies, placed at their (fractional) mel bin row."""
    rows = np.arange(len(bin_hz)) + 0.5
    return [(float(np.interp(hz, bin_hz, rows)), _hz_label(hz)) for hz in FREQUENCY_TICKS_HZ
            if bin_hz[0] <= hz <= bin_hz[-1]]


def _hz_label(hz: float) -> str:
    return f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}"


class SpectrogramTier(pg.PlotItem):
    """`set_media(path)` picks the file; `set_enabled(bool)` is the toggle. `status` says why it is
    empty (no audio track, unreadable audio)."""

    status = Signal(str)
    drawn = Signal(object)  # the Spectrogram just shown

    def __init__(self, cache_dir: Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cache_dir = cache_dir
        self.path: Path | None = None
        self.enabled = True
        self.shown: Spectrogram | None = None
        self.requests = 0
        self._serial = 0
        self._source: SpectrogramSource | None = None
        self._source_path: Path | None = None
        self._in_flight: RangeRequest | None = None
        self._pending: RangeRequest | None = None
        self._answered: Path | None = None  # the file whose range was last drawn (or found silent)
        self._workers: list = []
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.addItem(self.image)
        self.note = pg.TextItem("", color=TEXT_ON_DARK, anchor=(0, 0.5))
        self.addItem(self.note)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMouseEnabled(x=True, y=False)
        self.setYRange(0, len(BIN_HZ), padding=0)
        self.getAxis("left").setTicks([frequency_ticks()])
        self.getAxis("left").setLabel("Hz")
        self._requery_soon = QTimer()
        self._requery_soon.setSingleShot(True)
        self._requery_soon.setInterval(REQUERY_DELAY_MS)
        self._requery_soon.timeout.connect(self.requery)
        self.getViewBox().sigXRangeChanged.connect(lambda *_: self._requery_soon.start())
        self.getViewBox().sigResized.connect(lambda *_: self._requery_soon.start())

    # ---- inputs ----------------------------------------------------------------------------
    def set_media(self, path: Path | None) -> None:
        if path == self.path:
            return
        self.path = path
        self.shown = None
        self.image.clear()
        self.note.setText("")
        self._requery_soon.start()

    @property
    def ready(self) -> bool:
        """Nothing left to draw for the current file and range (or the tier is off)."""
        if not self.enabled or self.path is None:
            return True
        idle = self._pending is None and self._in_flight is None and not self._requery_soon.isActive()
        return idle and self._answered == self.path

    def requery_now(self) -> None:
        """Fetch the visible range now (a new item: no zoom gesture to wait out)."""
        self._requery_soon.stop()
        self.requery()

    def set_enabled(self, enabled: bool) -> None:
        """Hidden: nothing is computed; shown again: the visible range is fetched."""
        self.enabled = enabled
        self.setVisible(enabled)
        self.setMaximumHeight(QWIDGETSIZE_MAX if enabled else 0)  # hidden: its layout row collapses
        if enabled:
            self._requery_soon.start()

    # ---- fetching --------------------------------------------------------------------------
    def requery(self) -> None:
        if not self.enabled or self.path is None:
            return
        (t0, t1), _ = self.getViewBox().viewRange()
        t0 = max(0.0, t0)
        if not t1 > t0:
            return
        columns = max(16, int(self.getViewBox().width()))
        self._serial += 1
        self._pending = RangeRequest(self._serial, self.path, t0, t1, columns)
        self._start_next()

    def _start_next(self) -> None:
        if self._in_flight is not None or self._pending is None:
            return
        request, self._pending = self._pending, None
        self._in_flight = request
        self.requests += 1
        worker = create_worker(self._compute, request, _start_thread=False)
        worker.returned.connect(self._on_result)
        worker.errored.connect(lambda exc, r=request: self._on_error(r, exc))
        worker.finished.connect(lambda w=worker: self._worker_done(w))
        self._workers.append(worker)
        worker.start()

    def _compute(self, request: RangeRequest) -> tuple[RangeRequest, Spectrogram | None, np.ndarray | None]:
        """Worker thread: the source is touched by one request at a time."""
        lower_this_thread_priority()
        if self._source_path != request.path:
            if self._source is not None:
                self._source.close()
            self._source, self._source_path = open_spectrogram(request.path, self.cache_dir), request.path
        if self._source is None:
            return request, None, None
        spectrogram = self._source.range(request.start, request.end, request.columns)
        return request, spectrogram, colour_indices(spectrogram.db)

    def _worker_done(self, worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        self._in_flight = None
        self._start_next()

    def _on_result(self, result: tuple[RangeRequest, Spectrogram | None, np.ndarray | None]) -> None:
        request, spectrogram, shades = result
        if request.path != self.path:
            return  # the item changed meanwhile
        self._answered = request.path
        if spectrogram is None:
            self._say("no audio track")
            return
        if request.serial == self._serial or self.shown is None:
            self.show(spectrogram, shades)

    def _on_error(self, request: RangeRequest, exc: BaseException) -> None:
        if request.path == self.path:
            self._answered = request.path
            self._say(f"{request.path.name}: cannot read audio ({exc})")

    def _say(self, text: str) -> None:
        self.image.clear()
        self.note.setText(text)
        self.note.setPos(self.getViewBox().viewRange()[0][0], len(BIN_HZ) / 2)
        self.status.emit(text)

    # ---- drawing ---------------------------------------------------------------------------
    def show(self, spectrogram: Spectrogram, shades: np.ndarray | None = None) -> None:
        """Draw it; `shades`: its `colour_indices` (computed here if not given)."""
        db = spectrogram.db
        shades = colour_indices(db) if shades is None else shades
        self.image.setImage(shades, levels=None, autoLevels=False)
        self.image.setRect(QRectF(spectrogram.start, 0.0, spectrogram.end - spectrogram.start, db.shape[0]))
        self.note.setText("")
        self.shown = spectrogram
        self.drawn.emit(spectrogram)

    def shutdown(self) -> None:
        """Wait for a computation in flight (the window is closing) and release the file."""
        self._requery_soon.stop()
        self._pending = None
        for worker in list(self._workers):
            worker.quit()
        WorkerBase.await_workers(msecs=5000)
        if self._source is not None:
            self._source.close()
            self._source = None
