"""Open a media file with PyAV, turning every way it can fail into a typed MediaError."""

from __future__ import annotations

import os
from pathlib import Path

import av

from engine.media.errors import EmptyVideoError, NotAVideoError, TruncatedVideoError, VideoNotFoundError

MP4_FAMILY_MARKER = b"ftyp"


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open `path` for reading; raise VideoNotFound/Empty/Truncated/NotAVideo errors with one-line messages."""
    path = Path(path)
    if not path.is_file():
        raise VideoNotFoundError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise EmptyVideoError(f"video file is empty (0 bytes): {path.name}")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as error:
        if _looks_like_mp4(path):
            raise TruncatedVideoError(
                f"{path.name} is an incomplete mp4 (its index is missing: the write or copy was cut off)"
            ) from error
        raise NotAVideoError(f"{path.name} is not a video file FFmpeg can read") from error


def video_stream_of(container: av.container.InputContainer, path: str | os.PathLike) -> av.VideoStream:
    """The first video stream; NotAVideoError if there is none (an audio file, a subtitle file...)."""
    if not container.streams.video:
        raise NotAVideoError(f"{Path(path).name} has no video stream")
    return container.streams.video[0]


def _looks_like_mp4(path: Path) -> bool:
    with open(path, "rb") as handle:
        header = handle.read(12)
    return header[4:8] == MP4_FAMILY_MARKER
