"""What to draw on a presented frame and on the timeline: plain values built from the engine's
ClueScore (matches, IoUs, outcome kinds) and the item's GT, never scored here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.benchmark import Item
from engine.results import Box, ClueScore, FrameScore
from engine.scoring import gt_frame_times, gt_frames_by_cluster


@dataclass(frozen=True)
class OverlayBox:
    """One box on the frame. `slot` addresses the box inside the prediction for what-if edits:
    (label or None, frame index, position in that frame's list)."""

    role: str  # "gt" | "pred"
    kind: str  # InstanceKind, or "gt" when no prediction is shown
    box: Box
    name: str  # "g1", "p2", with the attribute label when there is one
    frame: int
    cluster: int
    iou: float | None = None
    slot: tuple[str | None, int, int] | None = None
    partner: Box | None = None  # the matched box, to draw the link and IoU label
    index: int | None = None  # the GT or prediction index within its frame (the match's gt / pred)


@dataclass(frozen=True)
class OverlayInterval:
    """One interval on a timeline tier; `slot` = position in the prediction's interval list."""

    role: str
    kind: str
    start: float
    end: float
    name: str
    iou: float | None = None
    slot: int | None = None
    partner: tuple[float, float] | None = None


def normalised(box) -> Box:
    """Corners ordered as the scorer orders them before its IoU (`Box.normalised`)."""
    return Box(*(float(v) for v in box)).normalised()


def gt_boxes_by_frame(item: Item) -> list[dict[int, list[Box]]]:
    """Per GT cluster: frame index -> boxes (corners ordered), in the engine's frame numbering."""
    return [{f: [normalised(b) for b in boxes] for f, boxes in cluster.items()}
            for cluster in gt_frames_by_cluster(item)]


def shown_frames(item: Item, frame_time: float, frame_index: int, fps: float,
                 frame_index_at: Callable[[float], int | None]) -> list[int]:
    """GT frames whose timestamp falls in the presented frame (or within half a frame of it)."""
    half = 0.5 / fps if fps > 0 else 0.0
    return [
        k for k, t in enumerate(gt_frame_times(item))
        if frame_index_at(t) == frame_index or abs(t - frame_time) <= half + 1e-9
    ]


def frame_boxes(item: Item, score: ClueScore | None, frames: list[int]) -> list[OverlayBox]:
    """GT and predicted boxes of the given GT frames, coloured by the engine's match outcome."""
    if item.category not in ("object", "attribute"):
        return []
    gt_clusters = gt_boxes_by_frame(item)
    scored = score is not None and not score.failed and score.clusters
    out: list[OverlayBox] = []
    if not scored:
        for c, cluster in enumerate(gt_clusters):
            for f in frames:
                for g, box in enumerate(cluster.get(f, [])):
                    out.append(OverlayBox("gt", "gt", box, _gt_name(item, c, g), f, c, index=g))
        return out
    for cluster in score.clusters:
        gt_frames = gt_clusters[cluster.gt_cluster] if cluster.gt_cluster < len(gt_clusters) else {}
        preds = _pred_frames(score, cluster.pred_label)
        for frame in cluster.frames:
            if frame.frame in frames:
                out.extend(_frame_pairs(item, cluster.gt_cluster, cluster.pred_label, frame,
                                        gt_frames.get(frame.frame, []), preds.get(frame.frame, [])))
    return out


def _pred_frames(score: ClueScore, label: str | None) -> dict[int, list[Box]]:
    parsed = score.parsed
    if parsed is None:
        return {}
    if score.category == "object":
        return parsed.frames
    return parsed.clusters.get(label, {}) if label is not None else {}


def _gt_name(item: Item, cluster: int, g: int) -> str:
    return f"c{cluster + 1}.g{g + 1}" if item.category == "attribute" else f"g{g + 1}"


def _frame_pairs(item: Item, cluster: int, label: str | None, frame: FrameScore,
                 gts: list[Box], preds: list[Box]) -> list[OverlayBox]:
    out = []
    for m in frame.matches:
        gt_box = normalised(gts[m.gt]) if m.gt is not None and m.gt < len(gts) else None
        pred_box = normalised(preds[m.pred]) if m.pred is not None and m.pred < len(preds) else None
        paired = gt_box is not None and pred_box is not None
        if gt_box is not None:
            out.append(OverlayBox("gt", m.kind, gt_box, _gt_name(item, cluster, m.gt), frame.frame, cluster,
                                  m.iou if paired else None, None, pred_box, m.gt))
        if pred_box is not None:
            name = f"p{m.pred + 1}" + (f" '{label}'" if label is not None else "")
            out.append(OverlayBox("pred", m.kind, pred_box, name, frame.frame, cluster,
                                  m.iou if paired else None, (label, frame.frame, m.pred), gt_box, m.pred))
    return out


def event_intervals(item: Item, score: ClueScore | None) -> tuple[list[OverlayInterval], list[OverlayInterval]]:
    """(GT tier, prediction tier) of an event item with the engine's tIoU and outcome per instance."""
    gts = [(c.start, c.end) for c in item.clue]
    if score is None or score.failed or not score.clusters or score.parsed is None:
        return [OverlayInterval("gt", "gt", s, e, f"g{i + 1}") for i, (s, e) in enumerate(gts)], []
    preds = list(score.parsed.intervals)
    gt_rows, pred_rows = [], []
    matches = score.clusters[0].frames[0].matches
    for m in matches:
        pred = preds[m.pred] if m.pred is not None and m.pred < len(preds) else None
        if m.gt is not None:
            s, e = gts[m.gt]
            gt_rows.append(OverlayInterval("gt", m.kind, s, e, f"g{m.gt + 1}",
                                           m.iou if pred else None, None, tuple(pred) if pred else None))
    seen: set[int] = set()
    for m in matches:  # one row per prediction: its best (first) match, GTs in order
        if m.pred is None or m.pred in seen or m.pred >= len(preds):
            continue
        seen.add(m.pred)
        s, e = preds[m.pred]
        partner = gts[m.gt] if m.gt is not None else None
        pred_rows.append(OverlayInterval("pred", m.kind, float(s), float(e), f"p{m.pred + 1}",
                                         m.iou if partner else None, m.pred, partner))
    pred_rows.sort(key=lambda r: r.slot)
    return gt_rows, pred_rows


@dataclass(frozen=True)
class FrameTick:
    """One frame of an object/attribute item on a timeline tier. `time` is None for a predicted
    frame with no GT timestamp (a hallucinated frame: the benchmark gives it no time)."""

    time: float | None
    frame: int
    cluster: int
    kind: str


def gt_frame_ticks(item: Item, score: ClueScore | None) -> list[FrameTick]:
    """GT frames per cluster, coloured by the shown run's outcome on that frame ("gt" with no run)."""
    times = gt_frame_times(item)
    outcome: dict[tuple[int, int], str] = {}
    if score is not None and not score.failed:
        for cluster in score.clusters:
            for frame in cluster.frames:
                outcome[(cluster.gt_cluster, frame.frame)] = frame.outcome
    return [FrameTick(times[f], f, c, outcome.get((c, f), "gt" if score is None else "missed"))
            for c, frames in enumerate(gt_frames_by_cluster(item)) for f in frames]


def pred_frame_ticks(score: ClueScore | None) -> list[FrameTick]:
    """Frames the run predicted boxes on, per GT cluster, with the engine's frame outcome."""
    if score is None or score.failed:
        return []
    return [FrameTick(frame.timestamp, frame.frame, cluster.gt_cluster, frame.outcome)
            for cluster in score.clusters for frame in cluster.frames if frame.n_pred > 0]


def selected_boxes(boxes: list[OverlayBox], score: ClueScore | None, ref) -> list[OverlayBox]:
    """The boxes of the WCS row picked in the panel: its match's GT and prediction, or every box of
    its frame for a frame row."""
    if ref is None or score is None or ref.cluster >= len(score.clusters):
        return []
    cluster = score.clusters[ref.cluster]
    if ref.frame >= len(cluster.frames):
        return []
    frame = cluster.frames[ref.frame]
    mine = [b for b in boxes if b.frame == frame.frame and b.cluster == cluster.gt_cluster]
    if ref.match is None or ref.match >= len(frame.matches):
        return mine
    match = frame.matches[ref.match]
    return [b for b in mine if (b.role == "gt" and b.index == match.gt) or (b.role == "pred" and b.index == match.pred)]
