"""Navigation: where an item opens, where a WCS row points, which clue or interval a loop covers and
who owns the loop, which items come next (for prefetching). Pure Python, tested without a window."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from psygnal import Signal

from avr_studio.models.playhead import Playhead
from avr_studio.models.scoreboard import ScoreBoard
from avr_studio.models.selection import InstanceRef, Selection
from avr_studio.models.session import Session
from engine.benchmark import Item

OBJECT_LOOP_SECONDS = 1.0  # a box clue is an instant: loop this much around it
LOOP_OWNERS = ("loop_clue", "loop_query")


def start_time(item: Item) -> float:
    """Where an item opens: its first clue, else its query interval's start, else 0."""
    times = item.clue_times
    if times:
        return times[0]
    return item.query_interval[0] if item.query_interval else 0.0


def neighbours(order: Sequence[int], index: int, before: int = 1, after: int = 2) -> list[int]:
    """The items next to `index` in the browser's order, nearest first (next before previous)."""
    if index not in order:
        return []
    at = list(order).index(index)
    out = []
    for step in range(1, max(before, after) + 1):
        if step <= after and at + step < len(order):
            out.append(order[at + step])
        if step <= before and at - step >= 0:
            out.append(order[at - step])
    return out


class Navigator:
    """Reads the session/selection/scores, moves the playhead; `loop_owner_changed(owner)` tells the
    transport which loop button is on."""
    loop_owner_changed = Signal(object)


    def __init__(self, session: Session, selection: Selection, scores: ScoreBoard, playhead: Playhead) -> None:
        self.session, self.selection, self.scores, self.playhead = session, selection, scores, playhead
        self.loop_owner: str | None = None
        playhead.loop_changed.connect(self._on_loop_changed)

    def item(self) -> Item | None:
        return self.session.item(self.selection.item_index)

    def open_item(self) -> None:
        """A new item: stop, drop the loop, go to where the item's question is about."""
        self.playhead.set_playing(False)
        self.playhead.set_loop(None)
        item = self.item()
        if item is not None:
            self.playhead.seek(start_time(item))

    def instance_time(self, ref: InstanceRef | None) -> float | None:
        """The time a breakdown row points at: its GT interval start or its frame's timestamp."""
        score = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        item = self.item()
        if ref is None or score is None or item is None or ref.cluster >= len(score.clusters):
            return None
        frames = score.clusters[ref.cluster].frames
        if ref.frame >= len(frames):
            return None
        frame = frames[ref.frame]
        if frame.timestamp is not None:
            return frame.timestamp
        if item.category == "event" and ref.match is not None:
            match = frame.matches[ref.match]
            if match.gt is not None:
                return item.clue[match.gt].start
            if match.pred is not None and score.parsed is not None:
                return float(score.parsed.intervals[match.pred][0])
        return None

    def seek_instance(self, ref: InstanceRef | None) -> None:
        t = self.instance_time(ref)
        if t is not None:
            self.playhead.seek(t)

    def jump_clue(self, direction: int) -> bool:
        """Next/previous clue; False when there is none that way."""
        item = self.item()
        return item is not None and self.playhead.jump_to_clue(item.clue_times, direction) is not None

    def clue_loop_interval(self) -> tuple[float, float] | None:
        """The clue under (or next to) the playhead, or the picked row's: an event interval, or a
        box clue's moment widened to OBJECT_LOOP_SECONDS."""
        item = self.item()
        if item is None or not item.clue:
            return None
        t = self.playhead.time
        selected = self.instance_time(self.selection.instance)
        if item.category == "event":
            spans = [(c.start, c.end) for c in item.clue]
            if selected is not None:
                t = selected
            containing = [s for s in spans if s[0] <= t <= s[1]]
            return containing[0] if containing else min(spans, key=lambda s: min(abs(s[0] - t), abs(s[1] - t)))
        times = item.clue_times
        moment = selected if selected is not None else min(times, key=lambda x: abs(x - t))
        return (max(0.0, moment - OBJECT_LOOP_SECONDS / 2), moment + OBJECT_LOOP_SECONDS / 2)

    def query_loop_interval(self) -> tuple[float, float] | None:
        item = self.item()
        return item.query_interval if item else None

    def toggle_loop(self, owner: str) -> bool:
        """Loop the clue or the query interval, or stop that loop; False when there is nothing to loop."""
        if owner not in LOOP_OWNERS:
            raise ValueError(f"unknown loop {owner!r}")
        if self.loop_owner == owner:
            self.playhead.set_loop(None)
            return True
        interval = self.clue_loop_interval() if owner == "loop_clue" else self.query_loop_interval()
        if interval is None:
            self.loop_owner_changed.emit(self.loop_owner)
            return False
        self.playhead.set_loop(interval)
        self._set_owner(owner)
        return True

    def _on_loop_changed(self, loop) -> None:
        if loop is None:
            self._set_owner(None)

    def _set_owner(self, owner: str | None) -> None:
        self.loop_owner = owner
        self.loop_owner_changed.emit(owner)

    def prefetch_targets(self, order: Sequence[int]) -> list[tuple[Path, float]]:
        """(video, time) where the neighbouring items open: decoded ahead so paging is instant."""
        index = self.selection.item_index
        if index is None:
            return []
        out = []
        for other in neighbours(order, index):
            item = self.session.item(other)
            if item is not None:
                out.append((self.session.video_path(item), start_time(item)))
        return out
