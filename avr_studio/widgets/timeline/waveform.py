"""The audio track: the envelope pyramid re-queried for the visible window at the plot's pixel
width on every range change, so zoom and pan stay smooth over an hour of audio."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyqtgraph as pg

from avr_studio.palette import TEXT_ON_DARK, WAVEFORM
from avr_studio.playback.envelope_loader import EnvelopeLoader


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


#: Envelopes kept in memory (LRU): paging between items of a few videos reloads none of them.
ENVELOPES_KEPT = 8


class WaveformTrack:
    """Loads a file's envelope off the GUI thread (once: recent ones stay in memory) and draws
    min/max per screen pixel."""

    def __init__(self, plot: pg.PlotItem, duration) -> None:
        self.plot = plot
        self.duration = duration  # callable: the open video's duration (0 when unknown)
        self.pyramid = None
        self.audio_path: Path | None = None
        self.loaders: list[EnvelopeLoader] = []
        self.queries = 0
        self.curve = pg.PlotDataItem(pen=pg.mkPen(WAVEFORM, width=1))
        self.curve.setDownsampling(auto=False, method="peak")  # data already arrives per pixel
        plot.addItem(self.curve)
        self.no_audio = pg.TextItem("", color=TEXT_ON_DARK, anchor=(0, 0.5))
        plot.addItem(self.no_audio)
        self._loaded: OrderedDict[Path, tuple[object, str]] = OrderedDict()  # path -> (pyramid, error)
        self.loaded_path: Path | None = None  # the path whose envelope (or its absence) is shown
        self._closed = False

    @property
    def ready(self) -> bool:
        """The shown file's envelope is drawn, or it is known to have none."""
        return self.loaded_path == self.audio_path

    def load(self, path: Path | None) -> None:
        if path == self.audio_path:
            return
        self.audio_path, self.pyramid = path, None
        self.curve.setData([], [])
        self.no_audio.setText("")
        if path is None or not path.is_file():
            self.loaded_path = path
            return
        if path in self._loaded:
            self._loaded.move_to_end(path)
            self._on_envelope(path, *self._loaded[path])
            return
        loader = EnvelopeLoader(path)
        loader.loaded.connect(self._on_envelope)
        loader.finished.connect(self._reap)
        self.loaders.append(loader)
        loader.start()

    def _reap(self) -> None:
        for loader in [loader for loader in self.loaders if loader.isFinished()]:
            self.loaders.remove(loader)
            loader.deleteLater()

    def _on_envelope(self, path: Path, pyramid, error: str) -> None:
        if self._closed:  # delivered after the window closed (queued before the loader was reaped)
            return
        self._loaded[path] = (pyramid, error)
        while len(self._loaded) > ENVELOPES_KEPT:
            self._loaded.popitem(last=False)
        if path != self.audio_path:
            return
        self.loaded_path = path
        self.pyramid = pyramid
        if pyramid is None:
            self.no_audio.setText(error or "no audio track")
        self.place_note()
        self.requery()

    def place_note(self) -> None:
        """The "no audio" note stays at the left edge of whatever is visible."""
        self.no_audio.setPos(self.plot.viewRange()[0][0], 0)

    def requery(self) -> None:
        """Min/max per screen pixel of the visible window, from the pyramid (never raw samples)."""
        if self.pyramid is None:
            return
        (t0, t1), _ = self.plot.viewRange()
        t0 = max(0.0, t0)
        duration = self.duration()
        t1 = min(t1, duration) if duration > 0 else t1
        n_pixels = max(16, int(self.plot.getViewBox().width()))
        if not t1 > t0:
            return
        times, mins, maxs = self.pyramid.query(t0, t1, n_pixels)
        self.queries += 1
        peak = float(np.nanmax(np.abs(np.concatenate([mins, maxs])))) if np.isfinite(maxs).any() else 0.0
        scale = 0.95 / peak if peak > 0 else 1.0
        x = np.repeat(times, 2)
        y = np.empty(2 * len(times), dtype=np.float32)
        y[0::2], y[1::2] = mins * scale, maxs * scale
        finite = np.isfinite(y)
        self.curve.setData(x[finite], y[finite])

    def shutdown(self) -> None:
        self._closed = True
        for loader in self.loaders:
            loader.wait(10000)
            loader.loaded.disconnect(self._on_envelope)
            loader.deleteLater()
        self.loaders.clear()
