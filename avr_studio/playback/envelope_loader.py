"""Loads a video's waveform envelope pyramid off the GUI thread (building it can take seconds)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal

from avr_studio.playback.decode_worker import lower_this_thread_priority


class EnvelopeLoader(QThread):
    """One load per thread; `loaded(path, pyramid_or_None, error_or_empty)`."""

    loaded = Signal(object, object, str)

    def __init__(self, path: Path, parent=None) -> None:
        super().__init__(parent)
        self.path = path

    def run(self) -> None:
        from engine.media import MediaError, load_envelope

        lower_this_thread_priority()
        try:
            self.loaded.emit(self.path, load_envelope(self.path), "")
        except MediaError as exc:
            self.loaded.emit(self.path, None, str(exc))
        except Exception as exc:  # a broken audio track must not take the window down
            self.loaded.emit(self.path, None, f"{self.path}: cannot read audio ({exc})")
