"""Frame-by-frame rendering of a scene into an mp4 with its audio track.

Frames are painted from the scene's shapes (the same geometry the clues come
from) over a slowly drifting background colour with fixed low-level noise; audio
is mixed second by second and interleaved with the frames so memory stays flat
however long the video is.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from engine.media.writer import VideoWriter
from engine.synth.scene import COLOURS, Scene, Shape
from engine.synth.sound import AudioTrack

NOISE_LEVELS = 16


def keyframe_interval(fps: float) -> int:
    """About four seconds between keyframes, kept within 50..250 frames: cheap encoding, bounded seeks."""
    return int(min(250, max(50, round(4 * fps))))


def scene_seed(scene: Scene) -> int:
    return zlib.crc32(f"{scene.seed}:{scene.name}".encode())


def background_colour(seconds: float) -> np.ndarray:
    """Dark, slowly varying RGB: far from every shape colour, so shapes stay easy to find."""
    phase = 2 * math.pi * seconds
    return np.array(
        [
            28 + 10 * math.sin(phase / 47),
            34 + 10 * math.sin(phase / 61 + 1),
            44 + 14 * math.sin(phase / 53 + 2),
        ],
        dtype=np.uint8,
    )


class Painter:
    """Paints frames; fastest in increasing order (asking for an earlier frame starts the shape list over)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        rng = np.random.default_rng([scene_seed(scene), 1])
        self.noise = rng.integers(0, NOISE_LEVELS, size=(scene.height, scene.width, 3), dtype=np.uint8)
        self.buffer = np.empty_like(self.noise)
        self._rewind()

    def _rewind(self) -> None:
        self._pending = list(reversed(self.scene.shapes))
        self._active: list[Shape] = []
        self._last = -1

    def _shapes_at(self, frame: int) -> list[Shape]:
        if frame < self._last:
            self._rewind()
        self._last = frame
        while self._pending and self._pending[-1].frame0 <= frame:
            self._active.append(self._pending.pop())
        self._active = [s for s in self._active if s.frame1 > frame]
        return self._active

    def paint(self, frame: int) -> np.ndarray:
        """The RGB frame `frame`; the returned buffer is reused by the next call."""
        np.add(self.noise, background_colour(frame / self.scene.fps), out=self.buffer)
        for shape in self._shapes_at(frame):
            cv2.fillPoly(self.buffer, [shape.polygon(frame)], COLOURS[shape.colour])
        return self.buffer


def frames_and_audio(scene: Scene) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield (frame index, RGB frame, audio due after that frame or None), about a second of audio at a time."""
    painter = Painter(scene)
    track = AudioTrack(scene.sounds, scene.audio_rate, scene_seed(scene))
    block = max(1, round(scene.fps))
    written = 0
    for frame in range(scene.frames):
        rgb = painter.paint(frame)
        audio = None
        if (frame + 1) % block == 0 or frame + 1 == scene.frames:
            due = round((frame + 1) / scene.fps * scene.audio_rate)
            audio, written = track.render(written, due), due
        yield frame, rgb, audio


def render_video(scene: Scene, path: Path, progress: Callable[[float], None] | None = None) -> None:
    """Write the scene to `path` atomically (the writer renames a finished temp file into place)."""
    size = (scene.width, scene.height)
    with VideoWriter(
        path, size, scene.fps, audio_rate=scene.audio_rate, gop=keyframe_interval(scene.fps)
    ) as writer:
        for frame, rgb, audio in frames_and_audio(scene):
            writer.add_frame(rgb)
            if audio is not None:
                writer.add_audio(audio)
                if progress:
                    progress((frame + 1) / scene.frames)
