"""Playback: while playing, the playhead follows the audio output's clock (the master clock);
a muted NullAudioOutput keeps the same path working with no sound device."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from avr_studio.models import Playhead
from avr_studio.playback.audio_out import AudioUnavailable, NullAudioOutput, create_audio_output

TICK_MS = 10
#: A playhead move further than this from the clock is a user seek: the clock restarts there.
SEEK_TOLERANCE = 0.05


class PlaybackController(QObject):
    status = Signal(str)

    def __init__(self, playhead: Playhead, output=None, parent=None) -> None:
        super().__init__(parent)
        self.playhead = playhead
        self.output = output if output is not None else create_audio_output()
        self.audio_path: Path | None = None
        self._advancing = False
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        playhead.playing_changed.connect(self._on_playing)
        playhead.speed_changed.connect(lambda _s: self._restart())
        playhead.time_changed.connect(self._on_time)

    @property
    def muted_note(self) -> str:
        return self.output.note if self.output.muted else ""

    def set_audio(self, path: Path | None) -> None:
        """The file whose audio plays (None: silent video); the clock keeps running either way."""
        self.audio_path = path
        self.output.set_source(path)
        if self.playhead.playing:
            self._restart()

    def _on_playing(self, playing: bool) -> None:
        if playing:
            self._start_output()
            self.timer.start()
        else:
            self.timer.stop()
            self.output.stop()

    def _start_output(self) -> None:
        try:
            self.output.start(self.playhead.time, self.playhead.speed)
        except AudioUnavailable as exc:
            self.output = NullAudioOutput(f"Muted: {exc}")
            self.status.emit(self.output.note)
            self.output.start(self.playhead.time, self.playhead.speed)

    def _restart(self) -> None:
        if self.playhead.playing:
            self.output.stop()
            self._start_output()

    def _on_time(self, t: float) -> None:
        if self.playhead.playing and (not self._advancing or abs(t - self.output.position()) > SEEK_TOLERANCE):
            self._restart()

    def _tick(self) -> None:
        self._advancing = True
        try:
            self.playhead.advance_to(self.output.position())
        finally:
            self._advancing = False

    def shutdown(self) -> None:
        self.timer.stop()
        self.output.close()
