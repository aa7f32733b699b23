""""Next failure": the instances of one item that went wrong, in time order, and the step from one
to the next (missed, hallucinated, duplicate or mislocalised; not only the next GT clue).

Plain functions over the engine's ClueScore breakdown; the window binds them to a key and selects
the returned instance (which seeks the player and highlights the row in the WCS panel).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from avr_studio.models.selection import InstanceRef
from engine.benchmark import Item
from engine.results import ClueScore, InstanceMatch

#: The error taxonomy's failure kinds (engine.results.InstanceKind without "matched").
FAILURE_KINDS = ("missed", "hallucinated", "duplicate", "mislocalised")


@dataclass(frozen=True)
class FailureStop:
    """One failed instance: where to look (`time`, None for a predicted frame with no GT timestamp)."""

    ref: InstanceRef
    kind: str
    time: float | None
    iou: float

    @property
    def sort_key(self) -> tuple[float, int, int, int]:
        time = self.time if self.time is not None else math.inf
        return (time, self.ref.cluster, self.ref.frame, self.ref.match or 0)


def failure_stops(item: Item, score: ClueScore | None, kinds: Iterable[str] = FAILURE_KINDS) -> list[FailureStop]:
    """Every failed instance of the item's breakdown, earliest first (no breakdown: none)."""
    if score is None:
        return []
    wanted = set(kinds)
    stops = []
    for c, cluster in enumerate(score.clusters):
        for f, frame in enumerate(cluster.frames):
            for m, match in enumerate(frame.matches):
                if match.kind in wanted:
                    time = _event_time(item, score, match) if frame.frame == -1 else frame.timestamp
                    stops.append(FailureStop(InstanceRef(c, f, m), match.kind, time, match.iou))
    return sorted(stops, key=lambda stop: stop.sort_key)


def _event_time(item: Item, score: ClueScore, match: InstanceMatch) -> float | None:
    """The earlier start of the GT interval and the predicted one, so both come into view."""
    starts = []
    if match.gt is not None and match.gt < len(item.clue):
        starts.append(item.clue[match.gt].start)
    intervals = score.parsed.intervals if score.parsed else ()
    if match.pred is not None and match.pred < len(intervals):
        starts.append(intervals[match.pred][0])
    return min(starts) if starts else None


def next_failure(stops: Sequence[FailureStop], current: InstanceRef | None, t: float, direction: int,
                 tolerance: float = 0.02) -> FailureStop | None:
    """The failure after (direction > 0) or before the selected one; with none selected (or the
    selection not a failure), the first one after or before time t. None at either end."""
    positions = [stop.ref for stop in stops]
    if current in positions:
        i = positions.index(current) + (1 if direction > 0 else -1)
        return stops[i] if 0 <= i < len(stops) else None
    if direction > 0:
        return next((s for s in stops if s.time is None or s.time > t + tolerance), None)
    earlier = [s for s in stops if s.time is not None and s.time < t - tolerance]
    return earlier[-1] if earlier else None


def next_failing_item(order: Sequence[int], current: int | None, has_failure: dict[int, bool],
                      direction: int) -> int | None:
    """The next item in browser order (after or before `current`) that has a failure; None if none."""
    if not order:
        return None
    start = order.index(current) if current in order else (-1 if direction > 0 else len(order))
    step = 1 if direction > 0 else -1
    i = start + step
    while 0 <= i < len(order):
        if has_failure.get(order[i]):
            return order[i]
        i += step
    return None


def has_failure(score: ClueScore | None, kinds: Iterable[str] = FAILURE_KINDS) -> bool:
    """An item counts as failing if it has a failed instance, or its answer could not be read."""
    if score is None:
        return False
    if score.failed:
        return True
    counts = score.kinds()
    return any(counts.get(kind, 0) for kind in kinds)
