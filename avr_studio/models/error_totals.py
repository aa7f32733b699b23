"""Error totals of a run: failed instances per category and kind, the items behind each count (so
clicking a count filters the browser) and the IoU histogram of matched pairs.

Computed from the engine's ClueScore breakdowns (with the user's edits when the ScoreBoard applies
them); no scoring of its own. No Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from avr_studio.models.failures import FAILURE_KINDS
from engine.results import ClueScore

ALL = "all"
CATEGORIES = ("event", "object", "attribute")
#: "unreadable": items whose answer could not be parsed or scored (instruction-following failures).
UNREADABLE = "unreadable"
PAIRED_KINDS = ("matched", "mislocalised")


@dataclass(frozen=True)
class ErrorTotals:
    """`count(category, kind)` instances; `items(category, kind)` the items with at least one."""

    run: str
    counts: Mapping[tuple[str, str], int]
    item_sets: Mapping[tuple[str, str], frozenset[int]]
    ious: tuple[float, ...]  # IoU of every matched or mislocalised pair
    n_items: Mapping[str, int]
    iou_items: tuple[int, ...] = ()  # the item of each pair in `ious`

    def count(self, category: str = ALL, kind: str = "missed") -> int:
        return self.counts.get((category, kind), 0)

    def items(self, category: str = ALL, kind: str = "missed") -> frozenset[int]:
        return self.item_sets.get((category, kind), frozenset())

    def items_with_iou(self, low: float, high: float) -> frozenset[int]:
        """Items with a matched pair whose IoU is in [low, high) (1.0 counts in the last bin)."""
        return frozenset(i for iou, i in zip(self.ious, self.iou_items, strict=True)
                         if low <= iou < high or (high >= 1.0 and iou == 1.0))

    def categories(self) -> list[str]:
        """Categories the run has items in, in the benchmark's order, then `all`."""
        return [c for c in CATEGORIES if self.n_items.get(c)] + [ALL]

    def iou_histogram(self, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of paired IoUs over [0, 1]; the 0.5 edge splits mislocalised from matched."""
        counts, edges = np.histogram(np.asarray(self.ious, dtype=float), bins=bins, range=(0.0, 1.0))
        return counts, edges


def error_totals(run: str, scores: Mapping[int, ClueScore]) -> ErrorTotals:
    """Totals over the run's scored clue items."""
    counts: dict[tuple[str, str], int] = {}
    sets: dict[tuple[str, str], set[int]] = {}
    n_items: dict[str, int] = {}
    ious: list[float] = []
    iou_items: list[int] = []
    for index, score in scores.items():
        for category in (score.category, ALL):
            n_items[category] = n_items.get(category, 0) + 1
            if score.failed:
                _add(counts, sets, (category, UNREADABLE), index, 1)
        for kind, n in score.kinds().items():
            for category in (score.category, ALL):
                _add(counts, sets, (category, kind), index, n)
        paired = _paired_ious(score)
        ious.extend(paired)
        iou_items.extend([index] * len(paired))
    frozen = {key: frozenset(value) for key, value in sets.items()}
    return ErrorTotals(run, counts, frozen, tuple(ious), n_items, tuple(iou_items))


def _add(counts: dict, sets: dict, key: tuple[str, str], index: int, n: int) -> None:
    counts[key] = counts.get(key, 0) + n
    sets.setdefault(key, set()).add(index)


def _paired_ious(score: ClueScore) -> list[float]:
    return [m.iou for cluster in score.clusters for frame in cluster.frames for m in frame.matches
            if m.kind in PAIRED_KINDS]


def table_rows(totals: ErrorTotals) -> list[tuple[str, list[int]]]:
    """Rows for a totals table: each category with its counts in FAILURE_KINDS + unreadable order."""
    kinds = (*FAILURE_KINDS, UNREADABLE)
    return [(category, [totals.count(category, kind) for kind in kinds]) for category in totals.categories()]
