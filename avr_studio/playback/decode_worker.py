"""Frame decoding off the GUI thread, latest request wins.

The GUI asks for a time; the worker decodes only the most recent request and hands back one frame
at a time (it waits until the GUI has shown the previous one), so frames never queue up behind a
scrub and the GUI thread never decodes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

from avr_studio.playback.video_pool import Prefetcher, VideoPool

#: GIL hand-over interval while decoding threads run: CPython's default (5 ms) lets a busy decoder
#: hold the GIL long enough to stall the GUI thread for tens of milliseconds while scrubbing.
GUI_SWITCH_INTERVAL = 0.001
#: A request at most this many frames after the last one is sequential (playing, stepping): the
#: engine then reads ahead of it. Anything else is a jump (a new item, a scrub): no read-ahead, which
#: would only spend the CPU the window needs to draw the new item.
SEQUENTIAL_FRAMES = 12


def prefer_gui_thread() -> None:
    """Make the interpreter hand the GIL over often, so the GUI thread waits at most ~1 ms for it."""
    if sys.getswitchinterval() > GUI_SWITCH_INTERVAL:
        sys.setswitchinterval(GUI_SWITCH_INTERVAL)


def lower_this_thread_priority(steps: int = 5) -> None:
    """Nice the calling thread (Linux: per thread; threads it starts inherit it) so decoding and
    envelope building yield the CPU to the GUI thread on small machines. Best effort elsewhere."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + steps))
    except (AttributeError, OSError):
        pass


@dataclass(frozen=True)
class DecodedFrame:
    """A frame as presented: `time` is the frame's own timestamp (frame_time(frame_index_at(t)))."""

    path: Path
    requested: float
    index: int
    time: float
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    duration: float
    fps: float
    frame_count: int
    size: tuple[int, int]
    has_audio: bool
    frame_index_at: object  # callable: seconds -> frame index (the video's own table)
    frame_time: object  # callable: frame index -> seconds


class DecodeWorker(QThread):
    """Owns the open video; `request(t)` replaces any pending request."""

    frame_ready = Signal(object)  # DecodedFrame
    opened = Signal(object)  # VideoInfo
    failed = Signal(str, str)  # path, one-line message

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pending_time: float | None = None
        self._pending_path: Path | None = None
        self._path_changed = False
        self._in_flight = False
        self._stopping = False
        self._video = None
        self._path: Path | None = None
        self._last_index: int | None = None
        self.decoded_count = 0
        self._pool = VideoPool()
        self._last_request = 0.0
        self._prefetcher = Prefetcher(self._pool, lambda: self._last_request)

    # ---- GUI side ------------------------------------------------------------------------
    def open(self, path: Path | None) -> None:
        with self._cond:
            self._pending_path, self._path_changed = path, True
            self._pending_time = None
            self._cond.notify()

    def request(self, t: float) -> None:
        self._last_request = time.monotonic()
        with self._cond:
            self._pending_time = float(t)
            self._cond.notify()

    def presented(self) -> None:
        """The GUI has shown the last frame: the next one may be sent."""
        with self._cond:
            self._in_flight = False
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.wait(5000)

    @property
    def idle(self) -> bool:
        with self._cond:
            return self._pending_time is None and not self._in_flight and not self._path_changed

    # ---- worker side ---------------------------------------------------------------------
    def run(self) -> None:
        lower_this_thread_priority()  # also the engine's read-ahead thread, started from here
        self._prefetcher.start()
        try:
            while True:
                with self._cond:
                    while not self._stopping and not self._path_changed and (
                        self._pending_time is None or self._in_flight
                    ):
                        self._cond.wait()
                    if self._stopping:
                        return
                    if self._path_changed:
                        path, self._path_changed = self._pending_path, False
                        t = None
                    else:
                        path, t = None, self._pending_time
                        self._pending_time = None
                        self._in_flight = True
                if t is None:
                    self._open(path)
                else:
                    self._decode(t)
        finally:
            self._close()

    def prefetch(self, targets: list[tuple[Path, float]]) -> None:
        """Decode these (video, time) frames in the background: the items the user may open next."""
        self._prefetcher.prefetch([(p, t) for p, t in targets if p is not None and p.is_file()])

    def _open(self, path: Path | None) -> None:
        from engine.media import MediaError

        self._video = None
        self._path, self._last_index = path, None
        if path is None:
            return
        try:
            self._video = self._pool.get(path, pin=True)
        except MediaError as exc:
            self.failed.emit(str(path), str(exc))
            return
        except Exception as exc:  # an unexpected decoder failure must not kill the thread
            self.failed.emit(str(path), f"{path}: cannot open ({exc})")
            return
        v = self._video
        self.opened.emit(VideoInfo(path, v.duration, v.fps, v.frame_count, tuple(v.size), v.has_audio,
                                  v.frame_index_at, v.frame_time))

    def _decode(self, t: float) -> None:
        from engine.media import MediaError

        video = self._video
        if video is None:
            self.presented()
            return
        try:
            index = video.frame_index_at(t)
            if index == self._last_index:  # that frame is on screen already: nothing to send
                self.presented()
                return
            sequential = self._last_index is not None and 0 < index - self._last_index <= SEQUENTIAL_FRAMES
            image = video.frame(index, read_ahead=sequential)
        except MediaError as exc:
            self.presented()
            self.failed.emit(str(self._path), str(exc))
            return
        except Exception as exc:
            self.presented()
            self.failed.emit(str(self._path), f"cannot decode at {t:.3f} s ({exc})")
            return
        self.decoded_count += 1
        self._last_index = index
        self.frame_ready.emit(DecodedFrame(self._path, t, index, video.frame_time(index), image))

    def _close(self) -> None:
        self._video = None
        self._prefetcher.stop()
        self._pool.close()
