"""Progress and ETA of a batch job from the items it has finished (no Qt).

Items already done before the job started (a resumed run) count towards the fraction but not
towards the rate; the rate is measured from the first item this job finished, so the model's
loading time does not make the ETA too pessimistic for the rest of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobProgress:
    done: int
    total: int | None
    rate: float | None  # items per second over this job's own items; None until two are done
    eta_seconds: float | None
    elapsed: float

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def describe(self) -> str:
        """One line for a status bar: `12/40 items, 0.8/s, ETA 35 s`."""
        of_total = f"/{self.total}" if self.total else ""
        parts = [f"{self.done}{of_total} items"]
        if self.rate:
            parts.append(f"{self.rate:.2g}/s")
        if self.eta_seconds is not None:
            parts.append(f"ETA {format_duration(self.eta_seconds)}")
        return ", ".join(parts)


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressMeter:
    """Feed it the count of finished items with a clock reading; it answers `JobProgress`."""

    def __init__(self, total: int | None, started_at: float) -> None:
        self.total = total
        self.started_at = started_at
        self._done = 0
        self._first: tuple[int, float] | None = None  # (done, time) at this job's first new item
        self._last: tuple[int, float] | None = None

    def update(self, done: int, now: float, total: int | None = None) -> JobProgress:
        if total is not None:
            self.total = total
        if done > self._done:
            self._first = self._first or (done, now)
            self._last = (done, now)
        self._done = max(self._done, done)
        return self.progress(now)

    def set_baseline(self, done: int) -> None:
        """Items that were finished before this job started (found in the output at launch): the
        rate is measured from the first item after them."""
        self._first = self._last = None
        self._done = max(self._done, done)

    def progress(self, now: float) -> JobProgress:
        rate = self._rate()
        remaining = (self.total - self._done) if self.total is not None else None
        eta = remaining / rate if rate and remaining is not None else None
        return JobProgress(self._done, self.total, rate, eta, now - self.started_at)

    def _rate(self) -> float | None:
        if self._first is None or self._last is None:
            return None
        (d0, t0), (d1, t1) = self._first, self._last
        if d1 <= d0 or t1 <= t0:
            return None
        return (d1 - d0) / (t1 - t0)
