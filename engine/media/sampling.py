"""Model inputs from a long video: exact frames at given indices and the audio of spans.

This is the hot path of long-video evaluation (50 frames + audio per item). Backends and the
trainer call only these two functions, so the decoding strategy can change behind them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from engine.media.audio import load_audio
from engine.media.video import SampledFrames, open_video

MODEL_AUDIO_RATE = 16000


def sample_frames(path: str | os.PathLike, indices: Sequence[int]) -> SampledFrames:
    """RGB frames at `indices` (in the given order) with their true presentation times."""
    with open_video(path, read_ahead=0) as video:
        wanted = [min(max(int(i), 0), video.frame_count - 1) for i in indices]
        frames = video._frames_by_index(wanted)
        return SampledFrames(
            indices=np.asarray(wanted, dtype=np.int64),
            times=video.frame_times[wanted],
            frames=frames,
        )


def sample_audio(path: str | os.PathLike, start: float, end: float,
                 sample_rate: int = MODEL_AUDIO_RATE) -> np.ndarray:
    """Mono float32 audio of [start, end] s at `sample_rate`; NoAudioError when the file has none."""
    return load_audio(path, sr=sample_rate, start=start, end=end)
