"""Frame-accurate random access to a video file.

`frame_at(t)` returns the frame whose display interval contains `t`, found in a
per-frame timestamp table (see frame_index.py), so it is exact for variable frame
rate too. A frame that is not cached is reached by seeking to the keyframe at or
before it and decoding forward; if the decoder is already positioned inside that
stretch it just keeps decoding (no seek), which makes playback and forward steps
cheap. Frames around each request go into an LRU cache, and a read-ahead thread
decodes the next few frames in the background. Nothing is decoded up front.

One lock guards the container and decoder, so the GUI thread, a decode thread and
the read-ahead thread may all call the same `Video`.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from engine.media.color import frame_to_rgb
from engine.media.errors import EmptyVideoError, MediaError, TruncatedVideoError
from engine.media.frame_cache import FrameCache
from engine.media.frame_index import FrameIndex, build_frame_index
from engine.media.opening import open_container, video_stream_of
from engine.media.read_ahead import ReadAhead

BENCHMARK_FRAME_COUNT = 50
DEFAULT_CACHE_MB = 256
DEFAULT_READ_AHEAD = 12
BACKWARD_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class SampledFrames:
    """Frames with their frame indices and presentation times (s), in sampling order."""

    indices: np.ndarray
    times: np.ndarray
    frames: list[np.ndarray]


def uniform_frame_indices(frame_count: int, n: int = BENCHMARK_FRAME_COUNT) -> np.ndarray:
    """The benchmark convention: `n` evenly spaced frame indices, first and last frame included.

    `np.linspace(0, frame_count - 1, n).round()`; when the video has fewer than `n`
    frames some indices repeat, so the prompt still gets exactly `n` images.
    """
    if frame_count <= 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.linspace(0, frame_count - 1, n).round().astype(np.int64)


class Video:
    """An open video file; use `open_video(path)`. Close it (or use `with`) to stop the read-ahead thread."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        cache_mb: int = DEFAULT_CACHE_MB,
        read_ahead: int = DEFAULT_READ_AHEAD,
    ) -> None:
        self.path = Path(path)
        self._container = open_container(self.path)
        try:
            self._stream = video_stream_of(self._container, self.path)
            self._index = build_frame_index(self._container, self._stream, self.path)
            if self._index.frame_count == 0:
                raise EmptyVideoError(f"{self.path.name} has a video track with no frames")
        except BaseException:
            self._container.close()
            raise
        # Slice threads only: frame threading adds a pipeline of latency that every seek must refill,
        # which made random access ~20% slower, while single-thread decoding already plays 720p far above 30 fps.
        self._stream.thread_type = "SLICE"
        self.has_audio = bool(self._container.streams.audio)
        width, height = self._stream.codec_context.width, self._stream.codec_context.height
        self.size: tuple[int, int] = (width, height)
        self._lock = threading.RLock()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self._decoded: Iterator[av.VideoFrame] | None = None
        self._next_index: int | None = None
        self._closed = False
        self._cache = FrameCache(cache_mb * 1024 * 1024, width * height * 3, to_rgb=frame_to_rgb)
        self._backward_frames = min(self._cache.capacity // 3, round(BACKWARD_CACHE_SECONDS * self.fps))
        self._read_ahead = self._start_read_ahead(read_ahead)

    def _start_read_ahead(self, frames_ahead: int) -> ReadAhead | None:
        frames_ahead = min(frames_ahead, self._cache.capacity // 3)
        if frames_ahead <= 0:
            return None
        # The thread holds only a weak reference, so a Video nobody closed can still be collected.
        this = weakref.ref(self)

        def decode_into_cache(index: int) -> None:
            video = this()
            if video is not None:
                video._decode_ahead(index)

        def foreground_waiting() -> bool:
            video = this()
            return video is not None and video._waiting > 0

        return ReadAhead(
            decode_into_cache=decode_into_cache,
            is_cached=self._cache.__contains__,
            foreground_waiting=foreground_waiting,
            frame_count=self.frame_count,
            frames_ahead=frames_ahead,
        )

    # ----- description -------------------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        return self._index.frame_count

    @property
    def duration(self) -> float:
        """Seconds from 0 to the end of the last frame's display interval."""
        return self._index.duration

    @property
    def fps(self) -> float:
        """Average frame rate (frames / duration); per-frame times come from `frame_time`."""
        return self.frame_count / self.duration if self.duration > 0 else 0.0

    @property
    def truncated(self) -> bool:
        """True when the file ends early; frames past the decodable part raise TruncatedVideoError."""
        return self._index.truncated

    @property
    def declared_duration(self) -> float:
        """Length the file's header claims; longer than `duration` when the file is truncated."""
        return self._index.declared_duration

    @property
    def frame_times(self) -> np.ndarray:
        """Presentation time (s) of every frame, ascending."""
        return self._index.times

    @property
    def frame_index(self) -> FrameIndex:
        return self._index

    def frame_index_at(self, seconds: float) -> int:
        """Index of the frame shown at `seconds`."""
        return self._index.index_at(seconds)

    def frame_time(self, index: int) -> float:
        """Presentation time (s) of frame `index`: step with `frame_time(frame_index_at(t) +- 1)`."""
        return self._index.time_of(index)

    def is_cached(self, index: int) -> bool:
        """Whether frame `index` is decoded already (a GUI can show a cached frame without waiting)."""
        return index in self._cache

    # ----- frames ------------------------------------------------------------------------------

    def frame_at(self, seconds: float, read_ahead: bool = True) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame whose display interval contains `seconds` (read-only array)."""
        return self.frame(self._index.index_at(seconds), read_ahead)

    def frame(self, index: int, read_ahead: bool = True) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame number `index` (read-only array). `read_ahead=False`: a jump
        (opening an item, a scrub) that need not start decoding the frames after it."""
        self._index.check_index(index)
        frame = self._cache.get(index)
        if frame is None:
            frame = self._decode_locked(index, self._backward_frames)
        if self._read_ahead is not None:
            if read_ahead:
                self._read_ahead.request(index)
            else:
                self._read_ahead.cancel()
        return frame

    def warm(self, index: int, should_stop=lambda: False) -> bool:
        """Decode frame `index` into the cache for later, giving way to anyone who needs a frame now:
        the decoder lock is taken for one frame at a time, and this returns False (the frame not
        decoded yet; call again to go on from where it stopped) as soon as a `frame()` call waits
        for it or `should_stop()` is true. True once the frame is cached."""
        self._index.check_index(index)
        while index not in self._cache:
            if self._waiting > 0 or should_stop():
                return False
            with self._lock:
                self._check_open()
                if index not in self._cache:
                    self._decode_one_towards(index)
        return True

    def _decode_one_towards(self, index: int) -> None:
        """One decoding step towards frame `index` (under the lock): seek if it cannot be reached by
        going on, decode one frame, cache it if it is `index`."""
        if not self._can_continue_to(index):
            self._seek_to_keyframe_before(index)
        frame = self._next_decoded_frame(index)
        found = self._index.index_of_pts(frame.pts if frame.pts is not None else frame.dts)
        self._next_index = found + 1
        if found == index:
            self._cache.put(found, frame_to_rgb(frame))
        elif found > index:  # a keyframe the index did not flag: the full decode handles it
            self._decode_to(index, keep_before=0)

    def frames_at(self, times: Sequence[float]) -> list[np.ndarray]:
        """Frames shown at each of `times`, in the given order (decoded in time order)."""
        indices = [self._index.index_at(t) for t in times]
        return self._frames_by_index(indices)

    def sample_uniform(self, n: int = BENCHMARK_FRAME_COUNT) -> SampledFrames:
        """`n` frames at `uniform_frame_indices`, with their presentation times, as prompts use them."""
        indices = uniform_frame_indices(self.frame_count, n)
        return SampledFrames(
            indices=indices,
            times=self._index.times[indices],
            frames=self._frames_by_index([int(i) for i in indices]),
        )

    def _frames_by_index(self, indices: list[int]) -> list[np.ndarray]:
        decoded: dict[int, np.ndarray] = {}
        for index in sorted(set(indices)):
            cached = self._cache.get(index)
            decoded[index] = cached if cached is not None else self._decode_locked(index, 0)
        return [decoded[i] for i in indices]

    # ----- decoding ----------------------------------------------------------------------------

    def _decode_locked(self, index: int, keep_before: int) -> np.ndarray:
        """Decode `index` under the decoder lock, telling the read-ahead thread to step aside meanwhile."""
        self._count_waiting(+1)
        try:
            self._lock.acquire()
        finally:
            self._count_waiting(-1)
        try:
            self._check_open()
            cached = self._cache.get(index)
            return cached if cached is not None else self._decode_to(index, keep_before)
        finally:
            self._lock.release()

    def _count_waiting(self, change: int) -> None:
        with self._waiting_lock:
            self._waiting += change

    def _decode_ahead(self, index: int) -> None:
        """Read-ahead step: decode `index` only if the decoder can reach it without seeking."""
        with self._lock:
            if self._closed or index in self._cache or not self._can_continue_to(index):
                return
            self._decode_to(index, keep_before=0)

    def _can_continue_to(self, index: int) -> bool:
        """Decoding forward from the current position reaches `index` no later than a seek would."""
        position = self._next_index
        if self._decoded is None or position is None or position > index:
            return False
        return self._index.keyframe_at_or_before(index) <= position

    def _decode_to(self, index: int, keep_before: int) -> np.ndarray:
        """Decode forward to frame `index`, caching it and up to `keep_before` frames before it."""
        if not self._can_continue_to(index):
            self._seek_to_keyframe_before(index)
        restarted = False
        while True:
            frame = self._next_decoded_frame(index)
            found = self._index.index_of_pts(frame.pts if frame.pts is not None else frame.dts)
            self._next_index = found + 1
            if found > index:
                # The seek landed past the target (a keyframe the index did not flag): start over once.
                if restarted:
                    raise self._undecodable(index)
                self._seek_to_keyframe_before(0)
                restarted = True
            elif found == index:
                return self._cache.put(found, frame_to_rgb(frame))
            elif found >= index - keep_before:
                self._cache.put_unconverted(found, frame)  # converted only if it is ever asked for

    def _seek_to_keyframe_before(self, index: int) -> None:
        """Position the decoder at the keyframe at or before `index`."""
        keyframe = self._index.keyframe_at_or_before(index)
        self._container.seek(int(self._index.pts[keyframe]), stream=self._stream, backward=True, any_frame=False)
        self._decoded = self._container.decode(self._stream)
        self._next_index = keyframe

    def _next_decoded_frame(self, target: int) -> av.VideoFrame:
        try:
            return next(self._decoded)
        except StopIteration:
            self._decoded = None
            self._next_index = None
            raise self._undecodable(target) from None
        except av.error.FFmpegError as error:
            self._decoded = None
            self._next_index = None
            raise self._undecodable(target) from error

    def _undecodable(self, index: int) -> MediaError:
        when = self._index.time_of(index)
        return TruncatedVideoError(
            f"frame at {when:.3f}s of {self.path.name} is past the decodable part of the file (truncated?)"
        )

    # ----- lifetime ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise MediaError(f"{self.path.name} is closed")

    def close(self) -> None:
        """Stop the read-ahead thread, free the cache and close the file. Safe to call twice."""
        if self._read_ahead is not None:
            self._read_ahead.stop()
            self._read_ahead = None
        with self._lock:
            if not self._closed:
                self._closed = True
                self._decoded = None
                self._container.close()
                self._cache.clear()

    def __enter__(self) -> Video:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def __del__(self) -> None:
        # May run on the read-ahead thread itself (it briefly holds the last reference): stop() allows that.
        if getattr(self, "_read_ahead", None) is not None:
            self._read_ahead.stop()


def open_video(
    path: str | os.PathLike, *, cache_mb: int = DEFAULT_CACHE_MB, read_ahead: int = DEFAULT_READ_AHEAD
) -> Video:
    """Open a video for frame-accurate access. Raises a MediaError subclass with a one-line message."""
    return Video(path, cache_mb=cache_mb, read_ahead=read_ahead)
