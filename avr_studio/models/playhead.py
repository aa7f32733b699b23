"""The playhead: time, play state, speed and loop, on the video's own frame grid.

Pure Python so transport logic (frame step vs hop, loops, clue jumps) is tested without a window.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from psygnal import Signal

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)
HOP_SECONDS = 5.0


class Playhead:
    """Current time in seconds; `time_changed(t)` on every move. The frame grid comes from the open
    video (`set_media`) so a one-frame step lands exactly on the next decoded frame."""
    time_changed = Signal(float)
    playing_changed = Signal(bool)
    speed_changed = Signal(float)
    loop_changed = Signal(object)
    media_changed = Signal()


    def __init__(self) -> None:
        self.time = 0.0
        self.duration = 0.0
        self.fps = 25.0
        self.playing = False
        self.speed = 1.0
        self.loop: tuple[float, float] | None = None
        self.unplayable = False
        self._frame_index_at: Callable[[float], int] | None = None
        self._frame_time: Callable[[int], float] | None = None

    # ---- media ---------------------------------------------------------------------------
    def set_media(
        self,
        duration: float,
        fps: float,
        frame_index_at: Callable[[float], int] | None = None,
        frame_time: Callable[[int], float] | None = None,
    ) -> None:
        self.duration, self.fps = max(0.0, duration), fps if fps > 0 else 25.0
        self.unplayable = False
        self._frame_index_at, self._frame_time = frame_index_at, frame_time
        self.media_changed.emit()
        self.seek(min(self.time, self.duration))

    def clear_media(self) -> None:
        """Another video is being opened: no duration to clamp to until `set_media`."""
        self.duration = 0.0
        self.unplayable = False
        self._frame_index_at = self._frame_time = None
        self.media_changed.emit()

    def frame_index_at(self, t: float) -> int:
        if self._frame_index_at is not None:
            return self._frame_index_at(t)
        return int(t * self.fps + 1e-6)

    def frame_time(self, index: int) -> float:
        if self._frame_time is not None:
            return self._frame_time(index)
        return index / self.fps

    # ---- moves ---------------------------------------------------------------------------
    def seek(self, t: float) -> None:
        t = min(max(0.0, float(t)), self.duration) if self.duration > 0 else max(0.0, float(t))
        if t != self.time:
            self.time = t
            self.time_changed.emit(t)

    def step_frames(self, n: int) -> None:
        """Move n frames along the video's grid (pauses: stepping is for looking closely)."""
        self.set_playing(False)
        index = max(0, self.frame_index_at(self.time) + n)
        self.seek(self.frame_time(index))

    def hop(self, seconds: float = HOP_SECONDS) -> None:
        self.seek(self.time + seconds)

    def advance_to(self, t: float) -> None:
        """Where the playback clock says we are; wraps inside a loop, stops at the end."""
        if self.loop is not None and t >= self.loop[1]:
            t = self.loop[0]
        elif self.duration > 0 and t >= self.duration:
            self.seek(self.duration)
            self.set_playing(False)
            return
        self.seek(t)

    # ---- state ---------------------------------------------------------------------------
    @property
    def has_media(self) -> bool:
        return self.duration > 0

    def shown_time(self) -> float:
        """The timestamp of the frame on screen at `time` (what the clock shows), on the video's grid."""
        if not self.has_media:
            return self.time
        return self.frame_time(self.frame_index_at(self.time))

    def mark_unplayable(self) -> None:
        """The video could not be opened: playing would run a clock past any end."""
        self.unplayable = True
        self.set_playing(False)

    def set_playing(self, playing: bool) -> None:
        """Play, except where the video is unreadable (see mark_unplayable)."""
        if playing and self.unplayable:
            playing = False
        if playing and self.duration > 0 and self.time >= self.duration and self.loop is None:
            self.seek(0.0)
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

    def toggle_play(self) -> None:
        self.set_playing(not self.playing)

    def set_speed(self, speed: float) -> None:
        speed = min(SPEEDS, key=lambda s: abs(s - speed))
        if speed != self.speed:
            self.speed = speed
            self.speed_changed.emit(speed)

    def faster(self, steps: int = 1) -> None:
        position = SPEEDS.index(self.speed) if self.speed in SPEEDS else SPEEDS.index(1.0)
        self.set_speed(SPEEDS[min(max(0, position + steps), len(SPEEDS) - 1)])

    def set_loop(self, interval: tuple[float, float] | None) -> None:
        """Loop an interval (a clue or the query interval); None stops looping."""
        if interval is not None and interval[1] <= interval[0]:
            interval = (interval[0], interval[0] + 1.0 / self.fps)
        if interval != self.loop:
            self.loop = interval
            self.loop_changed.emit(interval)
            if interval is not None and not interval[0] <= self.time < interval[1]:
                self.seek(interval[0])

    def jump_to_clue(self, times: Sequence[float], direction: int) -> float | None:
        """Seek to the next (direction > 0) or previous clue time; None when there is none."""
        target = neighbour_time(sorted(times), self.time, direction, 0.5 / self.fps)
        if target is not None:
            self.seek(target)
        return target


def neighbour_time(times: Sequence[float], t: float, direction: int, tolerance: float) -> float | None:
    """The first time strictly after t (or before it), ignoring times within `tolerance` of t."""
    if direction > 0:
        i = bisect.bisect_right(times, t + tolerance)
        return times[i] if i < len(times) else None
    i = bisect.bisect_left(times, t - tolerance)
    return times[i - 1] if i > 0 else None
