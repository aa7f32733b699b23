"""Background thread that decodes the frames just after the last requested one into the cache.

It makes playback and single-frame steps cheap: by the time the GUI asks for the
next frame it is usually already decoded. Bounded (a fixed number of frames
ahead), cancelable (each new request replaces the old target), a daemon, and it
steps aside whenever a foreground request is waiting for the decoder.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable

from engine.media.errors import MediaError

_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """A video left open must not be decoding while the interpreter tears down (libav aborts)."""
    for reader in list(_LIVE):
        reader.stop()


class ReadAhead:
    """Decode up to `frames_ahead` frames after each requested frame, one at a time, in the background."""

    def __init__(
        self,
        decode_into_cache: Callable[[int], None],
        is_cached: Callable[[int], bool],
        foreground_waiting: Callable[[], bool],
        frame_count: int,
        frames_ahead: int,
    ) -> None:
        self._decode_into_cache = decode_into_cache
        self._is_cached = is_cached
        self._foreground_waiting = foreground_waiting
        self._frame_count = frame_count
        self._frames_ahead = frames_ahead
        self._wake = threading.Condition()
        self._window: tuple[int, int] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="video-read-ahead", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def request(self, index: int) -> None:
        """Frame `index` was just shown: read ahead from it, dropping any older target."""
        with self._wake:
            self._window = (index + 1, min(index + self._frames_ahead, self._frame_count - 1))
            self._wake.notify()

    def cancel(self) -> None:
        with self._wake:
            self._window = None

    def stop(self) -> None:
        """Stop the thread and wait for it, unless called on it (a Video finalised there): then just signal."""
        with self._wake:
            self._stopping = True
            self._window = None
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            index = self._next_missing_frame()
            if index is None:
                return
            try:
                self._decode_into_cache(index)
            except MediaError:
                self.cancel()  # past the decodable part: the foreground reports it if asked

    def _next_missing_frame(self) -> int | None:
        """Block until there is a frame to decode (or stop); None means stop."""
        with self._wake:
            while True:
                if self._stopping:
                    return None
                if self._window is not None and not self._foreground_waiting():
                    first, last = self._window
                    missing = next((i for i in range(first, last + 1) if not self._is_cached(i)), None)
                    if missing is not None:
                        return missing
                    self._window = None
                self._wake.wait(timeout=0.005 if self._window is not None else None)
