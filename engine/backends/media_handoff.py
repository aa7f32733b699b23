"""A request's frames and audio, decoded on the caller's side and handed to a worker as .npy files.

Media never travel inline on the worker pipe: the parent decodes the exact frames
(engine.media.sampling) and the 16 kHz audio of each span, writes them as .npy files in a
private folder (on /dev/shm, i.e. shared memory, where the system has it) and sends their paths;
the worker maps them with numpy. The folder is removed when the request ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.base import BackendError, ModelRequest
from engine.media.sampling import MODEL_AUDIO_RATE, sample_audio, sample_frames


@dataclass(frozen=True)
class RequestMedia:
    """Decoded media of one request: frames (N, H, W, 3) uint8 RGB, one float32 clip per span."""

    frames: np.ndarray
    audio: tuple[np.ndarray, ...]


def decode_request_media(request: ModelRequest) -> RequestMedia:
    """Frames at `request.frame_indices` and the audio of `request.audio_spans`; BackendError if unreadable."""
    from engine.media.errors import MediaError

    try:
        if request.frame_indices:
            sampled = sample_frames(request.video_path, request.frame_indices)
            frames = np.stack(sampled.frames)
        else:
            frames = np.zeros((0, 0, 0, 3), dtype=np.uint8)
        audio = tuple(np.ascontiguousarray(sample_audio(request.video_path, span.start, span.end), dtype=np.float32)
                      for span in request.audio_spans)
    except MediaError as exc:
        raise BackendError(f"{Path(request.video_path).name}: {exc}") from None
    return RequestMedia(frames, audio)


class MediaFiles:
    """The .npy files of one request; use as a context manager so they are always removed."""

    def __init__(self, media: RequestMedia, parent: str | os.PathLike | None = None) -> None:
        needed = media.frames.nbytes + sum(clip.nbytes for clip in media.audio)
        self.folder = Path(tempfile.mkdtemp(prefix="avr-media-", dir=parent or shared_memory_dir(needed)))
        try:
            self.payload = self._write(media)
        except OSError as exc:
            self.cleanup()
            raise BackendError(f"cannot hand the frames to the worker ({needed / 1e6:.0f} MB in {self.folder.parent}): "
                               f"{exc.strerror or exc}") from None

    def _write(self, media: RequestMedia) -> dict[str, Any]:
        frames = None
        if len(media.frames):
            path = self.folder / "frames.npy"
            np.save(path, np.ascontiguousarray(media.frames, dtype=np.uint8))
            frames = {"path": str(path), "shape": list(media.frames.shape), "dtype": "uint8"}
        audio = []
        for k, clip in enumerate(media.audio):
            path = self.folder / f"audio{k}.npy"
            np.save(path, clip)
            audio.append({"path": str(path), "samples": int(len(clip)), "rate": MODEL_AUDIO_RATE})
        return {"frames": frames, "audio": audio}

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> MediaFiles:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def shared_memory_dir(needed_bytes: int = 0) -> str | None:
    """/dev/shm (files there live in memory) when writable with room to spare, else the temp dir.

    Containers often mount a 64 MB /dev/shm: 50 frames of 720p are 138 MB.
    """
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        return None
    try:
        free = shutil.disk_usage(shm).free
    except OSError:
        return None
    return shm if free > 2 * needed_bytes + (64 << 20) else None


def load_media_files(payload: dict[str, Any]) -> RequestMedia:
    """Worker side: map the files named in a generate message."""
    frames_info = payload.get("frames")
    frames = np.load(frames_info["path"], mmap_mode="r") if frames_info else np.zeros((0, 0, 0, 3), np.uint8)
    audio = tuple(np.load(a["path"]) for a in payload.get("audio") or ())
    return RequestMedia(frames, audio)
