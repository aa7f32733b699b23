"""Thread-safe LRU cache of decoded RGB frames, keyed by frame index and bounded in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class FrameCache:
    """Keep the most recently used frames; frames are stored read-only so callers cannot corrupt them."""

    def __init__(self, max_bytes: int, frame_bytes: int) -> None:
        self.capacity = max(4, max_bytes // max(frame_bytes, 1))
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def put(self, index: int, frame: np.ndarray) -> np.ndarray:
        frame.flags.writeable = False
        with self._lock:
            self._frames[index] = frame
            self._frames.move_to_end(index)
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)
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
