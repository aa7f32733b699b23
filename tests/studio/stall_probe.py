"""The GUI-thread stall probe for background-work tests, robust to a shared, overloaded machine.

A 5 ms timer on the GUI thread records the largest wall-clock gap between its ticks (what the user
would feel) and the largest CPU time the GUI thread itself used between two ticks (what our code
cost: a slot that blocks the thread burns it, a thread merely waiting for a core does not), less
the time Python's cyclic garbage collector ran in that interval (`max_gc`: a whole-heap pass costs
the same whoever allocated last, and grows with the test session's heap). The second is always
asserted; the first only when the machine had a core to spare, since on a machine whose load is
several times its cores any process waits for the CPU whatever its code does.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings

from PySide6.QtCore import QTimer

STALL_LIMIT = 0.050
#: Load average per core above which wall-clock gaps say more about the machine than about us.
OVERLOADED = 1.0


class StallProbe:
    def __init__(self) -> None:
        self.max_gap = 0.0
        self.max_busy = 0.0
        self.max_gc = 0.0
        self.ticks = 0
        self._last: tuple[float, float] | None = None
        self._gc_in_interval = 0.0
        self._gc_started: float | None = None
        self._gui_thread = threading.get_ident()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last[0])
            self.max_busy = max(self.max_busy, cpu - self._last[1] - self._gc_in_interval)
            self.max_gc = max(self.max_gc, self._gc_in_interval)
        self._last = (now, cpu)
        self._gc_in_interval = 0.0
        self.ticks += 1

    def _on_gc(self, phase: str, _info: dict) -> None:
        if threading.get_ident() != self._gui_thread:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started is not None:
            self._gc_in_interval += time.thread_time() - self._gc_started
            self._gc_started = None

    def __enter__(self) -> StallProbe:
        gc.callbacks.append(self._on_gc)
        self.timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop measuring now (e.g. from a slot, before work the test does not mean to measure)."""
        self.timer.stop()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def assert_no_stall(self, limit: float = STALL_LIMIT) -> None:
        assert self.ticks > 20, "the probe hardly ran"
        assert self.max_busy < limit, f"our code held the GUI thread {self.max_busy * 1000:.1f} ms"
        if self.max_gc >= limit:
            warnings.warn(f"Python's garbage collector held the GUI thread {self.max_gc * 1000:.1f} ms", stacklevel=2)
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
        if load > OVERLOADED:
            if self.max_gap >= limit:
                warnings.warn(f"GUI thread waited {self.max_gap * 1000:.1f} ms between ticks on a machine loaded "
                              f"{load:.1f}x its cores (our code: {self.max_busy * 1000:.1f} ms)", stacklevel=2)
            return
        assert self.max_gap < limit, f"GUI thread stalled {self.max_gap * 1000:.1f} ms"
