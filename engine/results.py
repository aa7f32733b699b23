"""Typed results of parsing and scoring: plain values the GUI shows piece by piece."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = ["Box", "ClueReport", "FRAME_OUTCOME_ORDER", "ClueScore", "ClusterScore", "CountParse", "CountScore", "FrameScore", "InstanceKind", "InstanceMatch", "Interval", "Interval95", "LongReport", "MISLOCALISED_IOU", "Mode", "ParsedClue"]



class Box(NamedTuple):
    """A box [x1, y1, x2, y2] in pixels with its corners as given (GT or model). The one box type of
    the engine and the studio; a plain tuple where a tuple is expected (JSON, unpacking)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def normalised(self) -> Box:
        """Corners reordered to [min x, min y, max x, max y], as the benchmark does before its IoU."""
        x1, y1, x2, y2 = self
        if x1 <= x2 and y1 <= y2:
            return self
        return Box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


Interval = tuple[float, float]
Mode = Literal["official", "strict"]
InstanceKind = Literal["matched", "mislocalised", "missed", "hallucinated", "duplicate"]

#: Instance kinds from worst to best: a frame's outcome is the first of these among its instances.
FRAME_OUTCOME_ORDER: tuple[InstanceKind, ...] = ("missed", "hallucinated", "duplicate", "mislocalised", "matched")

#: IoU below which a matched pair is called "mislocalised" in the error taxonomy (extra, not in WCS).
MISLOCALISED_IOU = 0.5


@dataclass(frozen=True, slots=True)
class CountParse:
    """A count read from model text: `value` is None when parsing failed, with `reason`."""

    value: float | None
    reason: str | None = None
    answer_text: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class ParsedClue:
    """Geometry read from a clue-protocol answer, in the benchmark's own frame numbering.

    event:     `intervals` = [(start, end), ...] in seconds, in the model's order.
    object:    `frames` = {frame_index (0-based): [box, ...]} in first-seen key order.
    attribute: `clusters` = {label: {frame_index: [box, ...]}} in first-seen label order.
    `failure` is set (and the geometry empty) when the answer could not be read.
    """

    category: str
    intervals: tuple[Interval, ...] = ()
    frames: dict[int, list[Box]] = field(default_factory=dict)
    clusters: dict[str, dict[int, list[Box]]] = field(default_factory=dict)
    failure: str | None = None
    answer_text: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def instance_count(self) -> int:
        if self.category == "event":
            return len(self.intervals)
        if self.category == "object":
            return sum(len(b) for b in self.frames.values())
        return len(self.clusters)


@dataclass(frozen=True, slots=True)
class InstanceMatch:
    """One row of the per-instance breakdown. gt/pred are indices within the frame
    (object/attribute) or within the item's interval lists (event); None when absent."""

    gt: int | None
    pred: int | None
    iou: float
    kind: InstanceKind


@dataclass(frozen=True, slots=True)
class FrameScore:
    """One frame (object/attribute) or the whole timeline (event, frame = -1)."""

    frame: int
    timestamp: float | None
    n_gt: int
    n_pred: int
    la: float
    cap: float
    score: float
    matches: tuple[InstanceMatch, ...]

    @property
    def outcome(self) -> InstanceKind:
        """The frame's outcome in one word: its worst instance (a frame with 2 of 3 GT boxes missed
        is "missed", not "matched"); an empty frame is missed (GT only) or hallucinated."""
        kinds = {m.kind for m in self.matches}
        for kind in FRAME_OUTCOME_ORDER:
            if kind in kinds:
                return kind
        return "hallucinated" if self.n_gt == 0 and self.n_pred > 0 else "missed"


@dataclass(frozen=True, slots=True)
class ClusterScore:
    """event/object items have one cluster (gt_cluster 0, pred_label None);
    attribute items have one per GT cluster, with the predicted label it was assigned."""

    gt_cluster: int
    pred_label: str | None
    score: float
    frames: tuple[FrameScore, ...]

    @property
    def la(self) -> float:
        return _mean([f.la for f in self.frames])

    @property
    def cap(self) -> float:
        return _mean([f.cap for f in self.frames])


@dataclass(frozen=True, slots=True)
class ClueScore:
    """White-box score of one item. `score` in [0, 1]; `failed` = instruction-following failure."""

    index: int
    category: str
    score: float
    failed: bool
    reason: str | None
    clusters: tuple[ClusterScore, ...] = ()
    parsed: ParsedClue | None = None

    def kinds(self) -> dict[str, int]:
        """Count of instances per error-taxonomy kind (matched, missed, ...)."""
        counts: dict[str, int] = {}
        for cluster in self.clusters:
            for frame in cluster.frames:
                for m in frame.matches:
                    counts[m.kind] = counts.get(m.kind, 0) + 1
        return counts


@dataclass(frozen=True, slots=True)
class CountScore:
    """Black-box score of one item (long/ref protocols)."""

    index: int
    category: str
    gt: int
    count: float | None
    reason: str | None
    abs_error: float
    mae_term: float
    mse_term: float

    @property
    def correct(self) -> bool:
        return self.abs_error < 1e-5

    @property
    def off_by_one(self) -> bool:
        return self.abs_error <= 1

    @property
    def failed(self) -> bool:
        return self.count is None


@dataclass(frozen=True, slots=True)
class Interval95:
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class LongReport:
    acc: float
    oboa: float
    mae: float
    rmse: float
    n: int
    parse_failures: int
    per_item: dict[int, CountScore]


@dataclass(frozen=True, slots=True)
class ClueReport:
    wcs: float
    ifa: float
    n: int
    per_item: dict[int, ClueScore]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
