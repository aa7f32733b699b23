"""Open videos shared by the decode worker and the prefetcher, and the prefetcher itself.

Paging through items with the arrow keys jumps between a few videos and far-apart times; opening a
file and decoding from the previous keyframe is most of a switch. The prefetcher decodes the
neighbouring items' first frames in the background into the same (pooled) Video objects, so the
switch finds its frame in the cache. It decodes with `Video.warm`, one frame per hold of the
decoder lock, and steps aside the moment the foreground asks that video for a frame: a prefetch
never makes the frame on screen wait.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

#: Open videos kept (LRU). A benchmark pages across 4 videos; each keeps a bounded frame cache.
POOL_SIZE = 4
#: Frame cache per pooled video (the engine's default is 256 MB).
POOL_CACHE_MB = 128
#: The prefetcher waits until the foreground has asked for no frame for this long (scrubbing and
#: playing come first; the window asks for a prefetch once the new item is on screen).
QUIET_SECONDS = 0.02


class VideoPool:
    """Thread-safe LRU of open `engine.media` videos; the one in use is never closed under its user."""

    def __init__(self, size: int = POOL_SIZE, cache_mb: int = POOL_CACHE_MB) -> None:
        self.size, self.cache_mb = size, cache_mb
        self._videos: OrderedDict[Path, object] = OrderedDict()
        self._pinned: Path | None = None
        self._lock = threading.Lock()

    def get(self, path: Path, pin: bool = False):
        """The open video at `path` (opened now if needed; MediaError as `open_video` raises it).
        `pin`: the foreground's video, never evicted while pinned."""
        from engine.media import open_video

        with self._lock:
            video = self._videos.get(path)
            if video is not None:
                self._videos.move_to_end(path)
        if video is None:
            video = open_video(path, cache_mb=self.cache_mb)
            with self._lock:
                other = self._videos.get(path)
                if other is not None:  # opened by the other thread meanwhile: keep that one
                    video.close()
                    video = other
                else:
                    self._videos[path] = video
        with self._lock:
            if pin:
                self._pinned = path
            evicted = self._evict()
        for old in evicted:
            old.close()
        return video

    def _evict(self) -> list:
        evicted = []
        while len(self._videos) > self.size:
            victim = next((p for p in self._videos if p != self._pinned), None)
            if victim is None:
                break
            evicted.append(self._videos.pop(victim))
        return evicted

    def close(self) -> None:
        with self._lock:
            videos, self._videos = list(self._videos.values()), OrderedDict()
        for video in videos:
            video.close()


class Prefetcher(threading.Thread):
    """Decodes (path, time) targets into the pool's caches, the most recent list first; a new list
    replaces what is left of the old one. Failures are ignored: the foreground reports its own."""

    def __init__(self, pool: VideoPool, last_request=lambda: 0.0) -> None:
        super().__init__(name="avr-prefetch", daemon=True)
        self.pool = pool
        self.last_request = last_request  # monotonic time of the foreground's latest frame request
        self._cond = threading.Condition()
        self._targets: list[tuple[Path, float]] = []
        self._serial = 0  # bumped by every new target list
        self._stopping = False
        self.done = 0

    def prefetch(self, targets: list[tuple[Path, float]]) -> None:
        with self._cond:
            self._targets = list(targets)
            self._serial += 1
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self.join(5.0)

    def run(self) -> None:
        from avr_studio.playback.decode_worker import lower_this_thread_priority

        lower_this_thread_priority()
        while True:
            with self._cond:
                while not self._stopping and not self._targets:
                    self._cond.wait()
                if self._stopping:
                    return
                quiet_for = time.monotonic() - self.last_request()
                if quiet_for < QUIET_SECONDS:
                    self._cond.wait(QUIET_SECONDS - quiet_for)
                    continue
                path, t = self._targets[0]
                serial = self._serial
            finished = self._warm(path, t, serial)
            with self._cond:
                if finished and serial == self._serial and self._targets[:1] == [(path, t)]:
                    self._targets.pop(0)

    def _warm(self, path: Path, t: float, serial: int) -> bool:
        """Decode the frame at t into the pooled video's cache. False: stepped aside for the
        foreground (tried again once it is quiet) or the targets changed."""
        from engine.errors import UserError

        try:
            video = self.pool.get(path)
            index = video.frame_index_at(min(max(0.0, t), video.duration))
            done = video.warm(index, should_stop=lambda: self._stopping or serial != self._serial)
        except (UserError, OSError, ValueError):
            return True  # the foreground reports its own errors; nothing to retry
        self.done += int(done)
        return done
