"""The GUI-thread stall probe for background-work tests, robust to a shared, overloaded machine.

A 5 ms timer on the GUI thread records the largest wall-clock gap between its ticks (what the user
would feel) and the largest CPU time the GUI thread itself used between two ticks (what our code
cost: a slot that blocks the thread burns it, a thread merely waiting for a core does not). The
second is always asserted; the first only when the machine had a core to spare, since on a machine
whose load is several times its cores any process waits for the CPU whatever its code does.
"""

from __future__ import annotations

import os
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
        self.ticks = 0
        self._last: tuple[float, float] | None = None
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last[0])
            self.max_busy = max(self.max_busy, cpu - self._last[1])
        self._last = (now, cpu)
        self.ticks += 1

    def __enter__(self) -> StallProbe:
        self.timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.timer.stop()

    def assert_no_stall(self, limit: float = STALL_LIMIT) -> None:
        assert self.ticks > 20, "the probe hardly ran"
        assert self.max_busy < limit, f"our code held the GUI thread {self.max_busy * 1000:.1f} ms"
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
        if load > OVERLOADED:
            if self.max_gap >= limit:
                warnings.warn(f"GUI thread waited {self.max_gap * 1000:.1f} ms between ticks on a machine loaded "
                              f"{load:.1f}x its cores (our code: {self.max_busy * 1000:.1f} ms)", stacklevel=2)
            return
        assert self.max_gap < limit, f"GUI thread stalled {self.max_gap * 1000:.1f} ms"
