"""Mel spectrograms of a media file's audio for the range on screen, cached on disk in tiles.

The timeline is cut into tiles of `TILE_COLUMNS` columns at a ladder of resolutions (10 ms per
column at level 0, x4 per level). A view asks for a time range and a width in pixels; the level
whose columns are about pixel-sized is chosen and only the tiles overlapping the range are
computed (or read from the cache beside the waveform envelopes). A coarse column is the mean
power of the 10 ms frames it covers, so a short beep still shows when zoomed out.

Mel bins make "low beep" (440 Hz) and "high beep" (1760 Hz) land rows apart.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io import publish_temp
from engine.media.audio import AudioStream
from engine.media.envelope_cache import media_cache_dir
from engine.media.errors import NoAudioError

SAMPLE_RATE = 16000
N_FFT = 512  # 32 ms window
BASE_HOP = 160  # 10 ms between frames: level 0 column
N_MELS = 64
F_MIN = 40.0
LEVEL_FACTOR = 4
MAX_LEVEL = 6  # columns of 41 s: a 2-hour file fits in a few tiles
TILE_COLUMNS = 256
FLOOR_DB = -100.0
CACHE_FORMAT_VERSION = 1
#: Base frames processed at once while computing a tile (bounds memory for coarse tiles).
FRAMES_PER_BLOCK = 6000


@dataclass(frozen=True)
class Spectrogram:
    """`db[bin, column]`: power in dB, bins low to high frequency; column c covers
    [start + c * column_seconds, start + (c + 1) * column_seconds)."""

    db: np.ndarray
    start: float
    column_seconds: float
    bin_hz: np.ndarray  # centre frequency of each mel bin

    @property
    def end(self) -> float:
        return self.start + self.db.shape[1] * self.column_seconds

    def column_at(self, t: float) -> int:
        return int(np.clip((t - self.start) // self.column_seconds, 0, self.db.shape[1] - 1))

    def loudest_bin_at(self, t: float) -> int:
        return int(np.argmax(self.db[:, self.column_at(t)]))


# ---------------------------------------------------------------- the math
def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = F_MIN,
                   fmax: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Triangular filters (n_mels x n_fft//2+1) on the mel scale, and their centre frequencies."""
    fmax = fmax or sr / 2
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (fft_hz[None, :] - lower) / (centre - lower)
    falling = (upper - fft_hz[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights.astype(np.float32), edges_hz[1:-1]


_FILTERBANK, BIN_HZ = mel_filterbank()
_WINDOW = np.hanning(N_FFT).astype(np.float32)


#: Samples of context before a frame: the window is centred on its 10 ms column.
LEAD = (N_FFT - BASE_HOP) // 2


def mel_power_frames(samples: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """Mel power of 10 ms frames (n_mels x frames). Frame i's window is centred on samples
    [LEAD + i*hop, LEAD + (i+1)*hop) of `samples`, which starts LEAD samples before the first
    column; missing context reads as silence."""
    if n_frames is None:
        n_frames = max(0, len(samples) - LEAD) // BASE_HOP
    padded = np.concatenate([samples.astype(np.float32), np.zeros(N_FFT, np.float32)])
    out = np.empty((N_MELS, n_frames), np.float32)
    for first in range(0, n_frames, FRAMES_PER_BLOCK):
        count = min(FRAMES_PER_BLOCK, n_frames - first)
        starts = (first + np.arange(count)) * BASE_HOP
        frames = padded[starts[:, None] + np.arange(N_FFT)[None, :]] * _WINDOW
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        out[:, first : first + count] = _FILTERBANK @ power.T.astype(np.float32)
    return out


def pool_columns(power: np.ndarray, factor: int) -> np.ndarray:
    """Mean power over groups of `factor` frames (a partial last group is averaged as it is)."""
    if factor == 1:
        return power
    n = power.shape[1]
    full = n // factor * factor
    pooled = power[:, :full].reshape(power.shape[0], -1, factor).mean(axis=2)
    if full < n:
        pooled = np.concatenate([pooled, power[:, full:].mean(axis=1, keepdims=True)], axis=1)
    return pooled


def to_db(power: np.ndarray) -> np.ndarray:
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-12)), FLOOR_DB).astype(np.float32)


def spectrogram_of_samples(samples: np.ndarray, start: float = 0.0, level: int = 0) -> Spectrogram:
    """The spectrogram of 16 kHz mono samples starting at `start` seconds, one level of the ladder (no cache)."""
    n_frames = -(-len(samples) // BASE_HOP)
    lead_in = np.zeros(LEAD, np.float32)
    power = pool_columns(mel_power_frames(np.concatenate([lead_in, samples]), n_frames), LEVEL_FACTOR**level)
    return Spectrogram(to_db(power), start, column_seconds(level), BIN_HZ)


def column_seconds(level: int) -> float:
    return BASE_HOP * LEVEL_FACTOR**level / SAMPLE_RATE


def level_for(seconds: float, columns: int) -> int:
    """The finest level that shows `seconds` in at most 2 x `columns` columns."""
    columns = max(1, columns)
    for level in range(MAX_LEVEL + 1):
        if seconds / column_seconds(level) <= 2 * columns:
            return level
    return MAX_LEVEL


# ---------------------------------------------------------------- the file, tiled and cached
class SpectrogramSource:
    """Spectrograms of one file's audio; tiles are cached on disk and in memory.

    Raises NoAudioError (from the constructor) when the file has no audio track. Thread-safe
    enough for one loader thread: the audio stream serialises its reads.
    """

    def __init__(self, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> None:
        self.path = Path(path)
        self._audio = AudioStream(self.path, SAMPLE_RATE)
        self.duration = self._audio.duration
        self._folder = spectrogram_cache_folder(self.path, cache_dir)
        self._memory: dict[tuple[int, int], np.ndarray] = {}

    def close(self) -> None:
        self._audio.close()

    def __enter__(self) -> SpectrogramSource:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def range(self, start: float, end: float, columns: int) -> Spectrogram:
        """[start, end) at about `columns` columns (between 1x and 2x, or the finest level)."""
        start, end = max(0.0, start), min(max(start, end), self.duration)
        level = level_for(end - start, columns)
        col = column_seconds(level)
        first_col, last_col = math.floor(start / col), max(math.ceil(end / col), math.floor(start / col) + 1)
        tiles = range(first_col // TILE_COLUMNS, (last_col - 1) // TILE_COLUMNS + 1)
        db = np.concatenate([self.tile(level, t) for t in tiles], axis=1)
        offset = first_col - tiles.start * TILE_COLUMNS
        db = db[:, offset : offset + (last_col - first_col)]
        return Spectrogram(db, first_col * col, col, BIN_HZ)

    def tile(self, level: int, index: int) -> np.ndarray:
        """dB columns [index * TILE_COLUMNS, (index + 1) * TILE_COLUMNS) of a level (the last tile may be short)."""
        key = (level, index)
        if key not in self._memory:
            self._memory[key] = self._load_tile(level, index)
        return self._memory[key]

    def _load_tile(self, level: int, index: int) -> np.ndarray:
        cached = self._folder / f"L{level}_T{index}.npy"
        if cached.is_file():
            try:
                return np.load(cached).astype(np.float32)
            except (OSError, ValueError):
                cached.unlink(missing_ok=True)  # a damaged entry is rebuilt, never trusted
        stored = self._compute_tile(level, index).astype(np.float16)  # 0.05 dB steps: plenty for a picture
        _save_atomic(stored, cached)
        return stored.astype(np.float32)  # the same values whether computed now or read back

    def _compute_tile(self, level: int, index: int) -> np.ndarray:
        """Decoded and transformed block by block: a coarse tile spans up to hours of audio."""
        factor = LEVEL_FACTOR**level
        first_sample = index * TILE_COLUMNS * factor * BASE_HOP
        own = min(TILE_COLUMNS * factor * BASE_HOP, round(self.duration * SAMPLE_RATE) - first_sample)
        n_frames = max(1, math.ceil(own / BASE_HOP))
        block = max(factor, FRAMES_PER_BLOCK // factor * factor)
        pooled = []
        for f0 in range(0, n_frames, block):
            count = min(block, n_frames - f0)
            samples = self._samples_with_context(first_sample + f0 * BASE_HOP, count * BASE_HOP + N_FFT)
            pooled.append(pool_columns(mel_power_frames(samples, count), factor))
        return to_db(np.concatenate(pooled, axis=1))

    def _samples_with_context(self, first: int, count: int) -> np.ndarray:
        """`count` samples from LEAD samples before `first`; before the file's start reads as silence."""
        context_first = first - LEAD
        silence = np.zeros(max(0, -context_first), np.float32)
        samples = self._audio.read(max(0, context_first) / SAMPLE_RATE, (count - len(silence)) / SAMPLE_RATE)
        return np.concatenate([silence, samples])


def spectrogram_cache_folder(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Tiles of this file's current identity (path, size, mtime) and settings, beside the envelopes."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    settings = f"{SAMPLE_RATE}|{N_FFT}|{BASE_HOP}|{N_MELS}|{F_MIN}|{LEVEL_FACTOR}|{TILE_COLUMNS}|{CACHE_FORMAT_VERSION}"
    identity = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}|{settings}"
    key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    return media_cache_dir(cache_dir) / "spectrograms" / key


def open_spectrogram(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> SpectrogramSource | None:
    """A source for the file's audio, or None when it has no audio track."""
    try:
        return SpectrogramSource(path, cache_dir)
    except NoAudioError:
        return None


def _save_atomic(db: np.ndarray, target: Path) -> None:
    """An unwritable cache only costs a recomputation next time."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tile.", suffix=".npy", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.save(handle, db)
            publish_temp(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass
