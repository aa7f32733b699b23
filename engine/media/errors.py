"""Typed media errors: each carries a one-line message a user can act on."""

from __future__ import annotations

from engine.errors import UserError


class MediaError(UserError):
    """Base of every media failure; `str(error)` is a human one-line message."""


class VideoNotFoundError(MediaError):
    """The path does not exist (or is not a file)."""


class NotAVideoError(MediaError):
    """The file exists but holds no decodable video stream."""


class TruncatedVideoError(MediaError):
    """The file ends early: what is decodable plays, beyond that this is raised."""


class EmptyVideoError(MediaError):
    """The container has a video stream with no frames."""


class NoAudioError(MediaError):
    """The file has no audio track; the video itself is fine."""


class FrameOutOfRangeError(MediaError):
    """A frame index or time outside the video was asked for."""
