"""Media layer: video frames, audio, waveform envelopes, clips and the mp4 writer."""

from engine.media.errors import (
    EmptyVideoError,
    FrameOutOfRangeError,
    MediaError,
    NoAudioError,
    NotAVideoError,
    TruncatedVideoError,
    VideoNotFoundError,
)
from engine.media.writer import VideoWriter

__all__ = [
    "EmptyVideoError",
    "FrameOutOfRangeError",
    "MediaError",
    "NoAudioError",
    "NotAVideoError",
    "TruncatedVideoError",
    "VideoNotFoundError",
    "VideoWriter",
]
