"""Generated test videos whose frames encode their own index, so decoding can be checked exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.media.index_code import draw_index, read_index
from engine.media.writer import VideoWriter

WIDTH, HEIGHT = 320, 240
BLOCK = 40  # 8 x 2 blocks of 40x40 pixels: robust to H.264 at any sane crf


def index_frame(index: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """RGB frame whose top band shows `index` as 16 black/white blocks (bit 0 top-left)."""
    frame = np.full((height, width, 3), 96, dtype=np.uint8)
    frame[2 * BLOCK :, :, 1] = (np.arange(width) * 255 // width).astype(np.uint8)
    return draw_index(frame, index, BLOCK)


def decode_index(frame: np.ndarray) -> int:
    """Read back the index drawn by `index_frame`."""
    return read_index(frame, BLOCK)


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def write_cfr_video(
    path: Path, frames: int, fps: float = 25.0, *, gop: int | None = 50, audio_hz: float | None = 440.0,
    audio_rate: int = 16000,
) -> Path:
    """Constant frame rate file; audio (if any) is a steady tone as long as the video."""
    with VideoWriter(path, (WIDTH, HEIGHT), fps, gop=gop, audio_rate=audio_rate if audio_hz else None) as writer:
        if audio_hz:
            writer.add_audio(tone(audio_hz, frames / fps, audio_rate))
        for index in range(frames):
            writer.add_frame(index_frame(index))
    return path


def vfr_times(frames: int, seed: int = 7) -> np.ndarray:
    """Irregular presentation times: gaps between 10 ms and 150 ms, not starting at 0."""
    gaps = np.random.default_rng(seed).uniform(0.010, 0.150, size=frames)
    return np.round(np.cumsum(gaps), 3)


def write_vfr_video(path: Path, times: np.ndarray, *, gop: int = 250) -> Path:
    """Variable frame rate file, long GOP, no audio."""
    with VideoWriter(path, (WIDTH, HEIGHT), 25.0, gop=gop, audio_rate=None) as writer:
        for index, seconds in enumerate(times):
            writer.add_frame(index_frame(index), pts_seconds=float(seconds))
    return path
