"""Generated test videos whose frames encode their own index, so decoding can be checked exactly."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
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


def write_joined_audio(path: Path, segment_seconds: float, starts: list[float], rate: int = 44100) -> Path:
    """Copies of one stereo AAC segment placed at `starts` (s) by copying packets, as a concat
    without re-encoding does: each copy decodes to whole 1024-sample frames, so a copy placed
    less than its decoded length after the previous one overlaps it, one placed later leaves a gap."""
    segment = path.with_name(f"{path.stem}.segment.mp4")
    count = round(segment_seconds * rate)
    t = np.arange(count) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) * (0.5 + t / segment_seconds / 2)  # a ramp: misplacement shows
    right = 0.3 * np.sin(2 * np.pi * 650 * t)
    with av.open(str(segment), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout, stream.time_base = "stereo", Fraction(1, rate)
        samples = np.stack([left, right]).astype(np.float32)
        for first in range(0, count, 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, first : first + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, first, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(segment)) as source, av.open(str(path), "w", format="mp4",
                                                   options={"movflags": "+faststart"}) as out:
        target = out.add_stream_from_template(source.streams.audio[0])
        last_dts = None
        for start in starts:
            source.seek(0)
            for packet in source.demux(source.streams.audio[0]):
                if packet.dts is None or packet.dts < 0:
                    continue  # the encoder's priming packet of each copy
                shift = round(start * rate)
                packet.dts, packet.pts = packet.dts + shift, packet.pts + shift
                if last_dts is not None and packet.dts <= last_dts:
                    continue
                last_dts = packet.dts
                packet.stream = target
                out.mux(packet)
    segment.unlink()
    return path
