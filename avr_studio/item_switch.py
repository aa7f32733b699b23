"""Switching items: the frame and the breakdown tree first, everything else once that frame is painted.

A researcher pages through items with the arrow keys and looks at the frame and the WCS tree. On a
new item the key handler only opens the item in the player (its frame request goes to the decode
thread first) and fills the visible tree. The rest (the timeline's range, waveform and tiers, the
prefetch of the neighbouring items) waits until the player has presented the item's frame: a
zero-timer started then fires after Qt has painted it (zero-timers run once the event queue is
idle, after the paint pass). If no frame comes (a missing or broken video, a slow first decode),
the same work runs after FALLBACK_MS. A key held down skips the deferred work of the items it only
passed: it always draws the item selected when it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

FALLBACK_MS = 200


class ItemSwitch(QObject):
    """`item_changed()` on a new item, `frame_presented()` when the player showed a frame; the
    deferred work (`after_frame` callables, in order) runs once per item. `settled(index)` after it."""

    settled = Signal(object)

    def __init__(self, current: Callable[[], int | None], after_frame: list[Callable[[], None]],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current = current
        self.after_frame = list(after_frame)
        self.pending = False
        self._after_paint = QTimer(self)
        self._after_paint.setSingleShot(True)
        self._after_paint.setInterval(0)
        self._after_paint.timeout.connect(self.run)
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.setInterval(FALLBACK_MS)
        self._fallback.timeout.connect(self.run)

    def item_changed(self) -> None:
        self.pending = True
        self._after_paint.stop()
        self._fallback.start()

    def frame_presented(self) -> None:
        if self.pending:
            self._after_paint.start()

    def stop(self) -> None:
        """The window is closing: nothing deferred runs any more."""
        self.pending = False
        self._after_paint.stop()
        self._fallback.stop()

    def run(self) -> None:
        """The deferred work now (also what a test or `--screenshot` calls to settle the window)."""
        self._after_paint.stop()
        self._fallback.stop()
        if not self.pending:
            return
        self.pending = False
        for work in self.after_frame:
            work()
        self.settled.emit(self.current())
