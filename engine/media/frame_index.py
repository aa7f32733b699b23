"""Per-frame presentation-time table of a video stream.

Read from an mp4's own sample table when that is exact (no B-frame reordering,
see mp4_index.py: 60 ms for a 60-minute file), else built by demuxing packets
without decoding them (0.9 s for 60 minutes of 720p), so it is exact for
variable-frame-rate files and never trusts a nominal fps. Packets the container
marks as discarded (edit-list preroll) are left out, so the table lists exactly
the frames a decoder outputs, in presentation order. The last few tables are
kept per file identity (path, size, mtime), so opening the same file again in
one process (probe, then sample) costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path

import av
import numpy as np

from engine.media.errors import FrameOutOfRangeError, TruncatedVideoError
from engine.media.mp4_index import sample_table_times

RECENT_INDEXES = 16
_RECENT: OrderedDict[tuple, FrameIndex] = OrderedDict()
_RECENT_LOCK = threading.Lock()


@dataclass(frozen=True)
class FrameIndex:
    """Sorted presentation timestamps (`pts`, in `time_base`) and keyframe flags per frame."""

    pts: np.ndarray
    keyframe: np.ndarray
    time_base: Fraction
    end_pts: int
    truncated: bool
    declared_duration: float = 0.0

    @property
    def frame_count(self) -> int:
        return len(self.pts)

    @property
    def times(self) -> np.ndarray:
        """Presentation time (s) of every frame."""
        return self.pts * float(self.time_base)

    @property
    def duration(self) -> float:
        """End of the last frame's display interval (s), measured from time 0."""
        return float(self.end_pts * self.time_base)

    def index_at(self, seconds: float) -> int:
        """Index of the frame whose display interval [t_i, t_i+1) contains `seconds`."""
        if self.truncated and self.duration < seconds <= self.declared_duration:
            raise TruncatedVideoError(
                f"{seconds:.3f}s is past the decodable part of the file (it ends at {self.duration:.3f}s)"
            )
        if not 0.0 <= seconds <= self.duration + 1e-9:
            raise FrameOutOfRangeError(f"time {seconds:.3f}s is outside the video (0 to {self.duration:.3f}s)")
        target = seconds / float(self.time_base)
        # Tolerate float noise: a time printed from frame_time(i) must map back to i.
        index = int(np.searchsorted(self.pts, target + 1e-6, side="right")) - 1
        return min(max(index, 0), self.frame_count - 1)

    def time_of(self, index: int) -> float:
        """Presentation time (s) of frame `index`."""
        self.check_index(index)
        return float(self.pts[index] * self.time_base)

    def check_index(self, index: int) -> None:
        if not 0 <= index < self.frame_count:
            raise FrameOutOfRangeError(f"frame {index} is outside the video (0 to {self.frame_count - 1})")

    @cached_property
    def keyframe_indices(self) -> np.ndarray:
        """Indices of the flagged keyframes, ascending."""
        return np.flatnonzero(self.keyframe)

    def keyframe_at_or_before(self, index: int) -> int:
        """Index of the last keyframe at or before `index` (0 if none is flagged)."""
        position = int(np.searchsorted(self.keyframe_indices, index, side="right")) - 1
        return int(self.keyframe_indices[position]) if position >= 0 else 0

    def index_of_pts(self, pts: int) -> int:
        """Index of the frame with this pts (nearest earlier one if not in the table)."""
        index = int(np.searchsorted(self.pts, pts, side="right")) - 1
        return min(max(index, 0), self.frame_count - 1)


def build_frame_index(
    container: av.container.InputContainer, stream: av.VideoStream, path: Path | None = None
) -> FrameIndex:
    """The frame table: from an mp4's sample table when that is exact (see mp4_index.py), else by
    demuxing every packet of `stream` (no decoding). Cached per file identity for the process."""
    key = _identity(path) if path is not None else None
    with _RECENT_LOCK:
        if key is not None and key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    index = (_from_sample_table(path, container, stream) if path is not None else None) or _demux_index(
        container, stream
    )
    if key is not None:
        with _RECENT_LOCK:
            _RECENT[key] = index
            while len(_RECENT) > RECENT_INDEXES:
                _RECENT.popitem(last=False)
    return index


def _identity(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _from_sample_table(path: Path, container: av.container.InputContainer, stream: av.VideoStream) -> FrameIndex | None:
    table = sample_table_times(path, container, stream)
    if table is None:
        return None
    pts, keyframe, end_pts = table
    index = FrameIndex(pts=pts, keyframe=keyframe, time_base=Fraction(stream.time_base), end_pts=end_pts,
                       truncated=False)
    return replace(index, declared_duration=max(index.duration, _declared_duration(container, stream)))


def _demux_index(container: av.container.InputContainer, stream: av.VideoStream) -> FrameIndex:
    """Demux every packet of `stream` (no decoding) and collect its pts, duration and key flag."""
    pts_list: list[int] = []
    key_list: list[bool] = []
    durations: list[int] = []
    truncated = False
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:
                continue
            pts = packet.pts if packet.pts is not None else packet.dts
            if pts is None:
                continue
            pts_list.append(int(pts))
            key_list.append(bool(packet.is_keyframe))
            durations.append(int(packet.duration or 0))
    except av.error.FFmpegError:
        truncated = True
    container.seek(0, stream=stream, backward=True)
    declared = stream.frames or 0
    truncated = truncated or (declared > 0 and len(pts_list) < declared)
    index = _sorted_index(pts_list, key_list, durations, Fraction(stream.time_base), truncated)
    return replace(index, declared_duration=max(index.duration, _declared_duration(container, stream)))


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Length the container header claims (longer than the frames found when the file is cut off)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / av.time_base


def _sorted_index(
    pts_list: list[int], key_list: list[bool], durations: list[int], time_base: Fraction, truncated: bool
) -> FrameIndex:
    pts = np.asarray(pts_list, dtype=np.int64)
    order = np.argsort(pts, kind="stable")
    pts = pts[order]
    keyframe = np.asarray(key_list, dtype=bool)[order] if len(order) else np.zeros(0, dtype=bool)
    end_pts = _end_pts(pts, np.asarray(durations, dtype=np.int64)[order] if len(order) else pts)
    return FrameIndex(pts=pts, keyframe=keyframe, time_base=time_base, end_pts=end_pts, truncated=truncated)


def _end_pts(pts: np.ndarray, durations: np.ndarray) -> int:
    """End of the last frame: its own packet duration, else the median gap between frames."""
    if len(pts) == 0:
        return 0
    last_duration = int(durations[-1]) if len(durations) else 0
    if last_duration <= 0:
        last_duration = int(np.median(np.diff(pts))) if len(pts) > 1 else 1
    return int(pts[-1]) + last_duration
