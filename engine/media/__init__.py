"""Media layer: frame-accurate video access, audio, waveform envelopes, clips and the mp4 writer.

No Qt here: the studio builds its players and waveform views on these plain objects.
"""

from engine.media.audio import AudioStream, load_audio, read_audio_block
from engine.media.clip import cut_clip
from engine.media.envelope import EnvelopeLevel, EnvelopePyramid
from engine.media.envelope_cache import load_envelope, media_cache_dir
from engine.media.errors import (
    EmptyVideoError,
    FrameOutOfRangeError,
    MediaError,
    NoAudioError,
    NotAVideoError,
    TruncatedVideoError,
    VideoNotFoundError,
)
from engine.media.video import SampledFrames, Video, open_video, uniform_frame_indices
from engine.media.writer import VideoWriter

__all__ = [
    "AudioStream",
    "EmptyVideoError",
    "EnvelopeLevel",
    "EnvelopePyramid",
    "FrameOutOfRangeError",
    "MediaError",
    "NoAudioError",
    "NotAVideoError",
    "SampledFrames",
    "TruncatedVideoError",
    "Video",
    "VideoNotFoundError",
    "VideoWriter",
    "cut_clip",
    "load_audio",
    "load_envelope",
    "media_cache_dir",
    "open_video",
    "read_audio_block",
    "uniform_frame_indices",
]
