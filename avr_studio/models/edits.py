"""What-if edits: a run's answer for an item replaced by edited geometry (a ParsedClue)."""

from __future__ import annotations

from dataclasses import replace

from psygnal import Signal

from engine.results import ParsedClue

EditKey = tuple[str, int]  # (run name, item index)


class Edits:
    """Edited clue geometry per (run, item); `changed(run, index)` after every change."""
    changed = Signal(str, int)


    def __init__(self) -> None:
        self._edits: dict[EditKey, ParsedClue] = {}
        self._history: dict[EditKey, list[ParsedClue | None]] = {}  # states before each gesture
        self._open_gesture: dict[EditKey, object] = {}

    def get(self, run: str, index: int) -> ParsedClue | None:
        return self._edits.get((run, index))

    def has(self, run: str, index: int) -> bool:
        return (run, index) in self._edits

    def set(self, run: str, index: int, parsed: ParsedClue, gesture: object = None) -> None:
        """Replace the answer. Every call of one open `gesture` (a drag) is one undo step."""
        key = (run, index)
        if gesture is None or self._open_gesture.get(key) != gesture:
            self._history.setdefault(key, []).append(self._edits.get(key))
            self._open_gesture[key] = gesture
        self._edits[key] = parsed
        self.changed.emit(run, index)

    def end_gesture(self, run: str, index: int) -> None:
        """The drag is over: the next change is a new undo step."""
        self._open_gesture.pop((run, index), None)

    def undo(self, run: str, index: int) -> bool:
        """Undo the last change (a whole drag) on this item; False when there is nothing to undo."""
        key = (run, index)
        history = self._history.get(key)
        if not history:
            return False
        previous = history.pop()
        self._open_gesture.pop(key, None)
        if previous is None:
            self._edits.pop(key, None)
        else:
            self._edits[key] = previous
        self.changed.emit(run, index)
        return True

    def reset(self, run: str, index: int) -> None:
        """Restore the model's own answer (all edits of the item, and their undo history)."""
        self._history.pop((run, index), None)
        self._open_gesture.pop((run, index), None)
        if self._edits.pop((run, index), None) is not None:
            self.changed.emit(run, index)

    def reset_all(self) -> None:
        keys = list(self._edits)
        self._edits.clear()
        self._history.clear()
        self._open_gesture.clear()
        for run, index in keys:
            self.changed.emit(run, index)

    def keys(self) -> list[EditKey]:
        return list(self._edits)


#: Edited coordinates are kept to this many decimals (1/100 px or s): a drag has no more precision,
#: and the what-if answer then shows no float noise.
EDIT_DECIMALS = 2


def _clean(value: float) -> float:
    return round(float(value), EDIT_DECIMALS)


def with_box(parsed: ParsedClue, label: str | None, frame: int, slot: int, box: tuple) -> ParsedClue:
    """The same answer with one predicted box moved (what-if)."""
    box = tuple(_clean(v) for v in box)
    if parsed.category == "object":
        frames = {f: list(boxes) for f, boxes in parsed.frames.items()}
        frames[frame][slot] = box
        return replace(parsed, frames=frames)
    clusters = {lab: {f: list(b) for f, b in fr.items()} for lab, fr in parsed.clusters.items()}
    clusters[label][frame][slot] = box
    return replace(parsed, clusters=clusters)


def with_interval(parsed: ParsedClue, slot: int, interval: tuple[float, float]) -> ParsedClue:
    """The same answer with one predicted interval moved or resized (what-if)."""
    intervals = list(parsed.intervals)
    intervals[slot] = (_clean(interval[0]), _clean(interval[1]))
    return replace(parsed, intervals=tuple(intervals))
