"""Cut [start, end] out of a video into a new mp4 with video and audio (the `ref` protocol's input).

The span is re-encoded rather than stream-copied: a stream copy can only start at
a keyframe (up to 10 s early in long-GOP files), while re-encoding starts at the
exact frame shown at `start`. Frame timing (including variable frame rate) is kept;
audio is mixed to mono at the source's sample rate.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.media.audio import AudioStream
from engine.media.errors import MediaError
from engine.media.video import Video, open_video
from engine.media.writer import VideoWriter

CLIP_CRF = 18
CLIP_PRESET = "veryfast"


def cut_clip(src: str | os.PathLike, dst: str | os.PathLike, start: float, end: float) -> Path:
    """Write frames and audio of [start, end] of `src` to `dst` (atomically); returns `dst`."""
    with open_video(src, read_ahead=0) as video:
        start, end = _checked_span(video, start, end)
        first = video.frame_index_at(start)
        last = _last_frame_before(video, end)
        width, height = video.size[0] // 2 * 2, video.size[1] // 2 * 2
        audio = AudioStream(src, sr=None) if video.has_audio else None
        try:
            with VideoWriter(
                dst, (width, height), video.fps, audio_rate=audio.sample_rate if audio else None,
                crf=CLIP_CRF, preset=CLIP_PRESET,
            ) as writer:
                _copy_span(video, audio, writer, first, last, start, end)
        finally:
            if audio is not None:
                audio.close()
    return Path(dst)


def _checked_span(video: Video, start: float, end: float) -> tuple[float, float]:
    start, end = max(0.0, float(start)), min(float(end), video.duration)
    if not end > start:
        raise MediaError(f"clip [{start:.3f}, {end:.3f}]s of {video.path.name} is empty")
    return start, end


def _last_frame_before(video: Video, end: float) -> int:
    """Last frame whose display starts before `end` (a frame starting exactly at `end` is not in the clip)."""
    times = video.frame_times
    return max(int(np.searchsorted(times, end, side="left")) - 1, video.frame_index_at(0.0))


def _copy_span(
    video: Video, audio: AudioStream | None, writer: VideoWriter, first: int, last: int, start: float, end: float
) -> None:
    """Frames in order, each followed by the audio up to the next frame, so the file is interleaved."""
    width, height = writer.size
    rate = audio.sample_rate if audio is not None else 1
    audio_done = round(start * rate)  # in samples, so consecutive reads neither overlap nor leave gaps
    for index in range(first, last + 1):
        shown_at = max(video.frame_time(index), start) - start
        writer.add_frame(np.ascontiguousarray(video.frame(index)[:height, :width]), pts_seconds=shown_at)
        if audio is not None:
            until = round((end if index == last else video.frame_time(index + 1)) * rate)
            writer.add_audio(audio.read(audio_done / rate, (until - audio_done) / rate))
            audio_done = until

