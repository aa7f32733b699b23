"""A long 720p H.264 + stereo AAC test video for the inference benchmark, generated once and cached.

Encoding 60 minutes of 720p would take many CPU minutes, so one 5-minute segment is encoded
(every frame shows its index within the segment as 16 black/white blocks, see
`engine.media.index_code`) and its packets are copied 12 times with shifted timestamps: a
valid 60-minute file in about a minute. Frame `i` of the long file shows `i % SEGMENT_FRAMES`.
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.io import publish_temp
from engine.media.index_code import draw_index, read_index

WIDTH, HEIGHT, FPS = 1280, 720, 25
GOP = 250
AUDIO_RATE = 44100
SEGMENT_SECONDS = 300
SEGMENT_FRAMES = SEGMENT_SECONDS * FPS
BLOCK = 64
VIDEO_TIME_BASE = Fraction(1, 90000)
AAC_FRAME = 1024


def frame_code(rgb: np.ndarray) -> int:
    """The segment-relative index a frame of the test video shows."""
    return read_index(rgb, BLOCK)


def expected_code(index: int) -> int:
    return index % SEGMENT_FRAMES


def long_video(workdir: Path, minutes: int = 60) -> Path:
    """Path of the cached `minutes`-long test video in `workdir`, generating it if needed."""
    if minutes * 60 % SEGMENT_SECONDS:
        raise ValueError(f"minutes must be a multiple of {SEGMENT_SECONDS // 60}")
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / f"long_{minutes}min_720p_gop{GOP}.mp4"
    if target.exists():
        return target
    segment = workdir / f"segment_{SEGMENT_SECONDS}s_720p_gop{GOP}.mp4"
    if not segment.exists():
        _log(f"encoding the {SEGMENT_SECONDS}s base segment ({SEGMENT_FRAMES} frames)...")
        _encode_segment(segment)
    _log(f"repeating it into {target.name}...")
    _repeat(segment, target, minutes * 60 // SEGMENT_SECONDS)
    return target


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _background() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0, 255, WIDTH, dtype=np.float32)
    y = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
    background = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    background[..., 0] = x[None, :].astype(np.uint8)
    background[..., 1] = ((x[None, :] + y) / 2).astype(np.uint8)
    background[..., 2] = np.broadcast_to(y, (HEIGHT, WIDTH)).astype(np.uint8)
    texture = np.random.default_rng(5).integers(-24, 24, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
    return background, texture


def _frame(index: int, background: np.ndarray, texture: np.ndarray) -> np.ndarray:
    """A moving gradient with scrolling texture (so the decoder has real work) and the index code."""
    moved = np.roll(background, (index * 7) % WIDTH, axis=1).astype(np.int16)
    moved += np.roll(texture, (index * 3) % HEIGHT, axis=0)
    return draw_index(np.clip(moved, 0, 255).astype(np.uint8), index, BLOCK)


def _audio(first: int, count: int) -> np.ndarray:
    t = np.arange(first, first + count) / AUDIO_RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t)) / 2
    right = 0.2 * np.sin(2 * np.pi * 660 * t)
    return np.stack([left, right]).astype(np.float32)


def _encode_segment(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.part")
    with av.open(str(tmp), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.time_base = video.codec_context.time_base = VIDEO_TIME_BASE
        video.codec_context.gop_size = GOP
        video.options = {"crf": "28", "preset": "ultrafast",
                         "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0"}
        audio = container.add_stream("aac", rate=AUDIO_RATE)
        audio.layout = "stereo"
        audio.time_base = Fraction(1, AUDIO_RATE)
        background, texture = _background()
        samples_done = 0
        for index in range(SEGMENT_FRAMES):
            frame = av.VideoFrame.from_ndarray(_frame(index, background, texture), format="rgb24")
            frame.pts = round(Fraction(index, FPS) / VIDEO_TIME_BASE)
            frame.time_base = VIDEO_TIME_BASE
            container.mux(video.encode(frame))
            while samples_done < (index + 1) * AUDIO_RATE // FPS:
                block = av.AudioFrame.from_ndarray(_audio(samples_done, AAC_FRAME), format="fltp", layout="stereo")
                block.sample_rate, block.pts = AUDIO_RATE, samples_done
                block.time_base = Fraction(1, AUDIO_RATE)
                container.mux(audio.encode(block))
                samples_done += AAC_FRAME
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    publish_temp(tmp, path)


def _repeat(segment: Path, target: Path, copies: int) -> None:
    """Concatenate `copies` of the segment by copying packets with shifted timestamps (no re-encoding)."""
    tmp = target.with_name(f".{target.name}.part")
    with av.open(str(segment)) as source, av.open(str(tmp), mode="w", format="mp4",
                                                   options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        last_dts = {index: None for index in streams}
        for copy in range(copies):
            source.seek(0)
            for packet in source.demux(*source.streams):
                if packet.dts is None or packet.stream.index not in streams:
                    continue
                shift = round(copy * SEGMENT_SECONDS / packet.time_base)
                dts = packet.dts + shift
                previous = last_dts[packet.stream.index]
                if previous is not None and dts <= previous:
                    continue  # encoder priming at the start of each copy after the first
                packet.dts, packet.pts = dts, packet.pts + shift
                last_dts[packet.stream.index] = dts
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    publish_temp(tmp, target)
