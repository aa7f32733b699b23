"""Audio output and the playback clock.

While audio plays, its output position is the master clock the video follows. With no audio (no
PortAudio, no sound card, a silent video) `NullAudioOutput` keeps the same interface and advances
time by the wall clock, so playback and its tests work everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
CHUNK_SECONDS = 20.0


class AudioUnavailable(RuntimeError):
    """Playing is impossible here (no device, device refused); run muted."""


class NullAudioOutput:
    """A real clock with no sound: position = start + elapsed wall time x speed."""

    muted = True

    def __init__(self, note: str = "") -> None:
        self.note = note
        self._t0 = 0.0
        self._wall0 = 0.0
        self._speed = 1.0
        self._running = False

    def set_source(self, path: Path | None) -> None:
        """Nothing to play; kept so both outputs are used the same way."""

    def start(self, t0: float, speed: float = 1.0) -> None:
        self._t0, self._speed, self._wall0, self._running = t0, speed, time.monotonic(), True

    def stop(self) -> None:
        if self._running:
            self._t0 = self.position()
        self._running = False

    def position(self) -> float:
        if not self._running:
            return self._t0
        return self._t0 + (time.monotonic() - self._wall0) * self._speed

    def close(self) -> None:
        self._running = False


class ChunkedAudio:
    """Mono samples of a long file, loaded in chunks on a helper thread (never in the audio callback)."""

    def __init__(self, path: Path, sr: int = SAMPLE_RATE, loader: Callable | None = None) -> None:
        from engine.media import load_audio

        self.path, self.sr = path, sr
        self._load = loader or load_audio
        self._chunks: dict[int, np.ndarray] = {}
        self._loading: set[int] = set()
        self._lock = threading.Lock()
        self._chunk_len = int(CHUNK_SECONDS * sr)

    def prefetch(self, t: float) -> None:
        """Make sure the chunk holding t and the next one are (being) loaded."""
        first = int(t * self.sr) // self._chunk_len
        for chunk in (first, first + 1):
            with self._lock:
                if chunk in self._chunks or chunk in self._loading or chunk < 0:
                    continue
                self._loading.add(chunk)
            threading.Thread(target=self._load_chunk, args=(chunk,), daemon=True).start()

    def _load_chunk(self, chunk: int) -> None:
        start = chunk * CHUNK_SECONDS
        try:
            samples = np.asarray(self._load(self.path, sr=self.sr, start=start, end=start + CHUNK_SECONDS), np.float32)
        except Exception:  # a chunk that cannot load plays as silence
            samples = np.zeros(0, np.float32)
        with self._lock:
            self._chunks[chunk] = samples
            self._loading.discard(chunk)
            for old in [c for c in self._chunks if abs(c - chunk) > 3]:
                del self._chunks[old]

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Samples at the given sample positions; silence where not loaded (yet)."""
        out = np.zeros(len(positions), np.float32)
        chunk_of = positions // self._chunk_len
        with self._lock:
            for chunk in np.unique(chunk_of):
                data = self._chunks.get(int(chunk))
                if data is None or not len(data):
                    continue
                mask = chunk_of == chunk
                offsets = positions[mask] - chunk * self._chunk_len
                valid = offsets < len(data)
                values = np.zeros(int(mask.sum()), np.float32)
                values[valid] = data[offsets[valid]]
                out[mask] = values
        return out


class SoundDeviceOutput:
    """Plays the video's audio through sounddevice; its callback position is the master clock.
    Speeds other than 1x resample by index stepping (pitch changes, timing stays exact)."""

    muted = False

    def __init__(self, sd_module, sr: int = SAMPLE_RATE) -> None:
        self.sd, self.sr = sd_module, sr
        self.note = ""
        self._source: ChunkedAudio | None = None
        self._stream = None
        self._lock = threading.Lock()
        self._t0 = 0.0
        self._speed = 1.0
        self._played = 0  # output frames since start
        self._callback_wall = 0.0
        self._last_frames = 0  # frames handed over at the last callback
        self._latency = 0.0  # seconds from that callback until its first frame is heard

    def set_source(self, path: Path | None) -> None:
        self.stop()
        self._source = ChunkedAudio(path, self.sr) if path else None

    def start(self, t0: float, speed: float = 1.0) -> None:
        self.stop()
        with self._lock:
            self._t0, self._speed, self._played, self._callback_wall = t0, speed, 0, time.monotonic()
            self._last_frames, self._latency = 0, 0.0
        if self._source is not None:
            self._source.prefetch(t0)
        try:
            self._stream = self.sd.OutputStream(samplerate=self.sr, channels=1, dtype="float32", callback=self._fill)
            self._stream.start()
        except Exception as exc:  # sounddevice.PortAudioError and friends
            self._stream = None
            raise AudioUnavailable(f"audio device refused to play ({exc})") from exc

    def _fill(self, outdata, frames, time_info, _status) -> None:
        with self._lock:
            start = self._t0 + self._played * self._speed / self.sr
            self._played += frames
            self._callback_wall = time.monotonic()
            self._last_frames = frames
            self._latency = self._output_latency(time_info)
        if self._source is None:
            outdata[:, 0] = 0.0
            return
        positions = (start * self.sr + np.arange(frames) * self._speed).astype(np.int64)
        outdata[:, 0] = self._source.read(positions)
        self._source.prefetch(start + CHUNK_SECONDS / 2)

    def stop(self) -> None:
        if self._stream is not None:
            self._t0 = self.position()
            try:
                self._stream.stop()
                self._stream.close()
            finally:
                self._stream = None

    def _output_latency(self, time_info) -> float:
        """When this callback's first frame reaches the speaker: PortAudio's DAC time when the host
        reports it, else the stream's nominal output latency."""
        try:
            latency = time_info.outputBufferDacTime - time_info.currentTime
        except AttributeError:
            latency = 0.0
        if not 0.0 < latency < 2.0:
            latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        return latency

    def position(self) -> float:
        """The media time being heard now: the frames handed over, less the output latency; between
        callbacks it runs on with the wall clock, but never past what was handed over (a late
        callback freezes the clock instead of letting it run ahead and jump back)."""
        with self._lock:
            if self._stream is None or not self._played:
                return self._t0
            since = time.monotonic() - self._callback_wall
            first_of_last = (self._played - self._last_frames) / self.sr
            heard = min(first_of_last + since - self._latency, self._played / self.sr)
            return self._t0 + max(0.0, heard) * self._speed

    def close(self) -> None:
        self.stop()


def create_audio_output() -> NullAudioOutput | SoundDeviceOutput:
    """The real output when a device exists, else a muted clock whose `note` says why."""
    try:
        import sounddevice as sd
    except OSError:
        return NullAudioOutput("Muted: PortAudio library not found")
    try:
        devices = sd.query_devices()
        if not len(devices) or sd.default.device[1] is None or sd.default.device[1] < 0:
            return NullAudioOutput("Muted: no audio output device")
    except Exception as exc:
        return NullAudioOutput(f"Muted: audio devices unavailable ({exc})")
    return SoundDeviceOutput(sd)
