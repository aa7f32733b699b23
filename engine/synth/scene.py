"""Scene values: every shape and sound with frame-exact times and pixel-exact geometry.

Ground truth is read off these values, and the renderer draws from the very same
values, so a clue box is exactly where the shape was drawn by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 90, 240),
    "yellow": (240, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 220, 230),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
}

SHAPE_KINDS: tuple[str, ...] = (
    "circle",
    "square",
    "triangle",
    "star",
    "diamond",
    "hexagon",
    "cross",
    "pentagon",
)

GRID = (8, 4)
"""Screen cells (columns, rows): each shape lives in one cell, so shapes never occlude each other."""


def _regular(
    points: int, start_deg: float = -90.0, radii: tuple[float, ...] = (1.0,)
) -> list[tuple[float, float]]:
    angles = np.deg2rad(start_deg + 360.0 * np.arange(points) / points)
    scale = [radii[i % len(radii)] for i in range(points)]
    return [(s * float(np.cos(a)), s * float(np.sin(a))) for s, a in zip(scale, angles, strict=True)]


_UNIT_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)],
    "triangle": [(0.0, -1.0), (0.95, 0.75), (-0.95, 0.75)],
    "diamond": [(0.0, -1.0), (0.75, 0.0), (0.0, 1.0), (-0.75, 0.0)],
    "hexagon": _regular(6, 0.0),
    "pentagon": _regular(5),
    "star": _regular(10, radii=(1.0, 0.45)),
    "cross": [
        (-0.3, -1.0),
        (0.3, -1.0),
        (0.3, -0.3),
        (1.0, -0.3),
        (1.0, 0.3),
        (0.3, 0.3),
        (0.3, 1.0),
        (-0.3, 1.0),
        (-0.3, 0.3),
        (-1.0, 0.3),
        (-1.0, -0.3),
        (-0.3, -0.3),
    ],
}


@lru_cache(maxsize=512)
def shape_offsets(kind: str, radius: int) -> np.ndarray:
    """Integer vertex offsets from the centre; cached because every frame of a shape reuses them."""
    if kind == "circle":
        return cv2.ellipse2Poly((0, 0), (radius, radius), 0, 0, 360, 8).astype(np.int32)
    unit = np.asarray(_UNIT_POLYGONS[kind], dtype=np.float64)
    return np.round(unit * radius).astype(np.int32)


def plural(kind: str) -> str:
    return kind + ("es" if kind.endswith(("s", "x")) else "s")


@dataclass(frozen=True)
class Shape:
    """A coloured shape visible on frames [frame0, frame1), drifting linearly from p0 to p1."""

    sid: int
    kind: str
    colour: str
    frame0: int
    frame1: int
    p0: tuple[int, int]
    p1: tuple[int, int]
    radius: int

    def visible(self, frame: int) -> bool:
        return self.frame0 <= frame < self.frame1

    def centre(self, frame: int) -> tuple[int, int]:
        span = max(1, self.frame1 - 1 - self.frame0)
        a = (frame - self.frame0) / span
        return (
            int(round(self.p0[0] + a * (self.p1[0] - self.p0[0]))),
            int(round(self.p0[1] + a * (self.p1[1] - self.p0[1]))),
        )

    def polygon(self, frame: int) -> np.ndarray:
        return shape_offsets(self.kind, self.radius) + np.asarray(self.centre(frame), dtype=np.int32)

    def bbox(self, frame: int) -> list[int]:
        """[x1, y1, x2, y2] covering exactly the drawn pixels (x2, y2 exclusive)."""
        pts = self.polygon(frame)
        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        return [int(x1), int(y1), int(x2) + 1, int(y2) + 1]


@dataclass(frozen=True)
class Sound:
    """A sound of a named kind playing over [start, end) seconds."""

    kind: str
    start: float
    end: float


@dataclass(frozen=True)
class Scene:
    """Everything in one video: its timing, its shapes and its sounds."""

    name: str
    seed: int
    width: int
    height: int
    fps: float
    audio_rate: int
    frames: int
    shapes: tuple[Shape, ...]
    sounds: tuple[Sound, ...]

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def to_json(self) -> dict:
        """A plain, stable description (for the resume manifest's hash)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "size": [self.width, self.height],
            "fps": self.fps,
            "audio_rate": self.audio_rate,
            "frames": self.frames,
            "shapes": [
                [s.sid, s.kind, s.colour, s.frame0, s.frame1, *s.p0, *s.p1, s.radius] for s in self.shapes
            ],
            "sounds": [[s.kind, s.start, s.end] for s in self.sounds],
        }
