"""Thread-safe LRU cache of decoded frames, keyed by frame index and bounded in bytes.

Frames decoded on the way to a target (kept so that stepping or scrubbing backward is
cheap) go in as the decoder's own YUV frames and are converted to RGB only if someone
asks for them: a random seek no longer pays an RGB conversion for every frame it keeps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class FrameCache:
    """Keep the most recently used frames; RGB frames are stored read-only so callers cannot corrupt them."""

    def __init__(self, max_bytes: int, frame_bytes: int, to_rgb: Callable[[object], np.ndarray] | None = None) -> None:
        self.capacity = max(4, max_bytes // max(frame_bytes, 1))
        self._frames: OrderedDict[int, object] = OrderedDict()
        self._lock = threading.Lock()
        self._to_rgb = to_rgb

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
        if frame is None or isinstance(frame, np.ndarray):
            return frame
        rgb = self._read_only(self._to_rgb(frame))
        with self._lock:
            if self._frames.get(index) is frame:
                self._frames[index] = rgb
        return rgb

    def put(self, index: int, frame: np.ndarray) -> np.ndarray:
        """Store an RGB frame (made read-only) and return it."""
        self._store(index, self._read_only(frame))
        return frame

    def put_unconverted(self, index: int, frame: object) -> None:
        """Store a decoder frame that `to_rgb` converts on its first `get`."""
        if self._to_rgb is None:
            raise ValueError("this cache has no converter for unconverted frames")
        self._store(index, frame)

    def _store(self, index: int, frame: object) -> None:
        with self._lock:
            self._frames[index] = frame
            self._frames.move_to_end(index)
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)

    @staticmethod
    def _read_only(frame: np.ndarray) -> np.ndarray:
        frame.flags.writeable = False
        return frame

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._frames

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
