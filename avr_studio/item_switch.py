"""Switching items: the frame and the breakdown tree first, everything else once they are painted.

A researcher pages through items with the arrow keys and looks at the frame and the WCS tree. On a
new item the key handler only opens the item in the player (its frame request goes to the decode
thread first) and fills the visible tree. The rest (the timeline's range, waveform and tiers, the
prefetch of the neighbouring items) waits until the player has presented the item's frame: then a
zero-timer fires when the event queue is idle (a key press already queued comes first, so a key
held down skips the deferred work of the items it only passed), the window's pending paint pass is
run first (the frame, the tree, the browser's row are on screen before anything else is done), then
the deferred work, always for the item selected at that moment. If no frame comes (a missing or
broken video, a slow first decode), the same happens after FALLBACK_MS.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal

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

    def paint_now(self) -> None:
        """Run the window's pending paint pass now (nothing is painted twice: only what is dirty)."""
        parent = self.parent()
        window = parent.window() if parent is not None and hasattr(parent, "window") else None
        if window is not None:
            QCoreApplication.sendPostedEvents(window, QEvent.Type.UpdateRequest.value)

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
        self.paint_now()
        for work in self.after_frame:
            work()
        self.settled.emit(self.current())
