"""White-box Counting Score of one item (clue protocol), with its per-instance breakdown."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.benchmark import BoxClue, Item
from engine.parsing import parse_clue
from engine.results import (
    MISLOCALISED_IOU,
    Box,
    ClueScore,
    ClusterScore,
    FrameScore,
    InstanceMatch,
    Mode,
    ParsedClue,
)
from engine.scoring.geometry import count_penalty, interval_iou, normalised_array, normalised_iou

FrameBoxes = dict[int, list[Box]]
#: IoUs, GT rows x prediction columns: nested lists, or a numpy array once a frame or timeline has
#: at least _ARRAY_PAIRS pairs (a model listing thousands of boxes). Both give identical numbers:
#: the same IEEE operations on the same finite floats.
Matrix = list[list[float]] | np.ndarray
_ARRAY_PAIRS = 2048


def score_clue(item: Item, pred_text: str, mode: Mode = "official") -> ClueScore:
    """Parse the model's answer for this item and score it."""
    return score_parsed(item, parse_clue(item.category, pred_text, mode))


def score_parsed(item: Item, parsed: ParsedClue) -> ClueScore:
    """Score already-parsed (possibly user-edited) geometry; any failure scores 0 and counts for IFA."""
    if not parsed.ok:
        return ClueScore(item.index, item.category, 0.0, True, parsed.failure, (), parsed)
    try:
        clusters = _SCORERS[item.category](item, parsed)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        return ClueScore(item.index, item.category, 0.0, True, f"cannot score: {exc}", (), parsed)
    score = sum(c.score for c in clusters) / max(len(_gt_clusters(item)), 1)
    if not math.isfinite(score):
        return ClueScore(item.index, item.category, 0.0, True, "score is not a finite number", (), parsed)
    return ClueScore(item.index, item.category, score, False, None, clusters, parsed)


# ---------------------------------------------------------------- GT frames
def gt_frame_times(item: Item) -> list[float]:
    """Frame index -> timestamp: distinct clue timestamps in order of first appearance."""
    boxes = _all_gt_boxes(item)
    return list(dict.fromkeys(b.timestamp for b in boxes))


def _all_gt_boxes(item: Item) -> list[BoxClue]:
    if item.category == "object":
        return list(item.clue)
    if item.category == "attribute":
        return [b for cluster in item.clue for b in cluster]
    return []


def _gt_clusters(item: Item) -> list:
    return list(item.clue) if item.category == "attribute" else [item.clue]


def gt_frames_by_cluster(item: Item) -> list[FrameBoxes]:
    """Per GT cluster (object items: one), frame index -> boxes, numbered as the scorer numbers frames."""
    frame_of = {t: i for i, t in enumerate(gt_frame_times(item))}
    return [_frames_of(cluster, frame_of) for cluster in _gt_clusters(item)]


def _frames_of(boxes: Sequence[BoxClue], frame_of: dict[float, int]) -> FrameBoxes:
    frames: FrameBoxes = {}
    for b in boxes:
        frames.setdefault(frame_of[b.timestamp], []).append(b.bbox)
    return frames


# ---------------------------------------------------------------- event
def _score_event(item: Item, parsed: ParsedClue) -> tuple[ClusterScore, ...]:
    gts = [(c.start, c.end) for c in item.clue]
    preds = list(parsed.intervals)
    ious = _interval_ious(gts, preds)
    la = sum(_best(row)[0] for row in ious) / len(gts) if gts and preds else 0.0
    cap = count_penalty(len(preds), len(gts))
    score = math.sqrt(la * max(0.0, cap))
    frame = FrameScore(-1, None, len(gts), len(preds), la, cap, score, _event_matches(ious, len(preds)))
    return (ClusterScore(0, None, score, (frame,)),)


def _interval_ious(gts: list[tuple[float, float]], preds: list[tuple[float, float]]) -> Matrix:
    if len(gts) * len(preds) < _ARRAY_PAIRS:
        return [[interval_iou(g, p) for p in preds] for g in gts]
    g = np.array(gts, dtype=float).reshape(-1, 2)
    p = np.array(preds, dtype=float).reshape(-1, 2)
    g0, g1, p0, p1 = g[:, :1], g[:, 1:], p[:, 0], p[:, 1]
    inter = np.maximum(0.0, np.minimum(g1, p1) - np.maximum(g0, p0))
    span = np.maximum(g1, p1) - np.minimum(g0, p0)
    return np.divide(inter, span, out=np.zeros_like(inter), where=span != 0)


def _best(row: list[float] | np.ndarray) -> tuple[float, int]:
    """The row's highest IoU and its first column (0.0, -1 for an empty row)."""
    if isinstance(row, np.ndarray):
        return (float(row.max()), int(row.argmax())) if row.size else (0.0, -1)
    best = max(row, default=0.0)
    return best, (row.index(best) if row else -1)


def _event_matches(ious: Matrix, n_pred: int) -> tuple[InstanceMatch, ...]:
    """Each GT with its best prediction (the rule lets one prediction serve several GTs)."""
    rows: list[InstanceMatch] = []
    chosen: set[int] = set()
    for g, row in enumerate(ious):
        best, p = _best(row)
        if best <= 0:
            rows.append(InstanceMatch(g, None, 0.0, "missed"))
            continue
        kind = "duplicate" if p in chosen else _matched_kind(best)
        chosen.add(p)
        rows.append(InstanceMatch(g, p, best, kind))
    rows.extend(_unmatched_preds(ious, n_pred, chosen))
    return tuple(rows)


# ---------------------------------------------------------------- object
def _score_object(item: Item, parsed: ParsedClue) -> tuple[ClusterScore, ...]:
    score, frames = _frames_score(gt_frames_by_cluster(item)[0], parsed.frames, gt_frame_times(item))
    return (ClusterScore(0, None, score, frames),)


def _frames_score(gt: FrameBoxes, pred: FrameBoxes, times: list[float]) -> tuple[float, tuple[FrameScore, ...]]:
    """Mean per-frame score over the union of GT and predicted frames."""
    frame_ids = list(dict.fromkeys([*gt, *pred]))
    frames = tuple(_frame_score(f, gt.get(f, []), pred.get(f, []), times) for f in frame_ids)
    score = sum(f.score for f in frames) / len(frames) if frames else 0.0
    return score, tuple(sorted(frames, key=lambda f: f.frame))


def _frame_score(frame: int, gt: list[Box], pred: list[Box], times: list[float]) -> FrameScore:
    ious = _box_ious(gt, pred)
    pairs = greedy_match(ious, len(pred))
    la = sum(float(ious[g][p]) for g, p in pairs) / len(gt) if gt else 0.0
    cap = count_penalty(len(pred), len(gt))
    score = math.sqrt(la * max(0.0, cap))
    timestamp = times[frame] if 0 <= frame < len(times) else None
    return FrameScore(frame, timestamp, len(gt), len(pred), la, cap, score, _box_matches(ious, len(pred), pairs))


def _box_ious(gt: list[Box], pred: list[Box]) -> Matrix:
    """IoU of every (GT, prediction) pair of boxes, corners ordered first (`Box.normalised`)."""
    if len(gt) * len(pred) < _ARRAY_PAIRS:
        pred_corners = [_corners(p) for p in pred]
        return [[normalised_iou(g, p) for p in pred_corners] for g in map(_corners, gt)]
    g = normalised_array(gt).reshape(-1, 1, 4)
    p = normalised_array(pred).reshape(1, -1, 4)
    iw = np.maximum(0.0, np.minimum(g[..., 2], p[..., 2]) - np.maximum(g[..., 0], p[..., 0]))
    ih = np.maximum(0.0, np.minimum(g[..., 3], p[..., 3]) - np.maximum(g[..., 1], p[..., 1]))
    inter = iw * ih
    union = (g[..., 2] - g[..., 0]) * (g[..., 3] - g[..., 1]) + (p[..., 2] - p[..., 0]) * (p[..., 3] - p[..., 1]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _corners(box: Box | Sequence[float]) -> Box:
    """Ordered corners of a box (edited geometry may hand in plain 4-tuples)."""
    return (box if isinstance(box, Box) else Box(*box)).normalised()


def greedy_match(ious: Matrix, n_pred: int) -> list[tuple[int, int]]:
    """Repeatedly take the highest-IoU unmatched pair; ties: lowest GT index, then lowest pred index.

    A GT is matched before all GTs are, so to one of its `min(#GT, #pred)` best predictions: only
    those candidates are sorted, which keeps a frame with a huge list of predicted boxes linear.
    """
    limit = min(len(ious), n_pred)
    if limit == 0:
        return []
    if len(ious) == 1:  # one GT: its best prediction, the lowest index among equals
        best, p = _best(ious[0])
        return [(0, p)]
    order = sorted(candidate for g, row in enumerate(ious) for candidate in _best_in_row(g, row, limit))
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, g, p in order:
        if g not in used_g and p not in used_p:
            used_g.add(g)
            used_p.add(p)
            pairs.append((g, p))
            if len(pairs) == limit:
                break
    return pairs


def _best_in_row(g: int, row: list[float] | np.ndarray, limit: int) -> list[tuple[float, int, int]]:
    """(-IoU, g, p) of the row's `limit` best predictions in greedy order (all of them when few)."""
    if isinstance(row, np.ndarray):
        return [(-float(row[p]), g, int(p)) for p in np.argsort(-row, kind="stable")[:limit]]
    if len(row) <= limit:
        return [(-v, g, p) for p, v in enumerate(row)]
    return [(negative, g, p) for negative, p in heapq.nsmallest(limit, ((-v, p) for p, v in enumerate(row)))]


def _box_matches(ious: Matrix, n_pred: int, pairs: list[tuple[int, int]]) -> tuple[InstanceMatch, ...]:
    rows: list[InstanceMatch] = []
    chosen: set[int] = set()
    paired = dict(pairs)
    for g, row in enumerate(ious):
        p = paired.get(g)
        iou = float(row[p]) if p is not None else 0.0
        if p is None or iou <= 0:
            rows.append(InstanceMatch(g, None, 0.0, "missed"))
            continue
        chosen.add(p)
        rows.append(InstanceMatch(g, p, iou, _matched_kind(iou)))
    rows.extend(_unmatched_preds(ious, n_pred, chosen))
    return tuple(rows)


# ---------------------------------------------------------------- attribute
def _score_attribute(item: Item, parsed: ParsedClue) -> tuple[ClusterScore, ...]:
    times = gt_frame_times(item)
    gt_clusters = gt_frames_by_cluster(item)
    labels = list(parsed.clusters)
    table = [[_frames_score(gt, parsed.clusters[label], times) for label in labels] for gt in gt_clusters]
    if not labels:
        return tuple(ClusterScore(k, None, 0.0, _frames_score(gt, {}, times)[1]) for k, gt in enumerate(gt_clusters))
    scores = np.array([[cell[0] for cell in row] for row in table])
    rows, cols = linear_sum_assignment(scores, maximize=True)
    assigned = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    clusters = []
    for k, gt in enumerate(gt_clusters):
        m = assigned.get(k)
        if m is None:
            clusters.append(ClusterScore(k, None, 0.0, _frames_score(gt, {}, times)[1]))
        else:
            clusters.append(ClusterScore(k, labels[m], float(scores[k, m]), table[k][m][1]))
    return tuple(clusters)


# ---------------------------------------------------------------- taxonomy
def _matched_kind(iou: float) -> str:
    return "matched" if iou >= MISLOCALISED_IOU else "mislocalised"


def _unmatched_preds(ious: Matrix, n_pred: int, chosen: set[int]) -> list[InstanceMatch]:
    """Predictions nobody matched: duplicates if they overlap some GT, else hallucinated."""
    if len(chosen) == n_pred:
        return []
    if isinstance(ious, np.ndarray):
        column_best = ious.max(axis=0).tolist() if len(ious) else [0.0] * n_pred
    else:
        column_best = [max(column) for column in zip(*ious, strict=True)] if ious else [0.0] * n_pred
    return [InstanceMatch(None, p, best, "duplicate" if best > 0 else "hallucinated")
            for p, best in enumerate(column_best) if p not in chosen]


_SCORERS = {"event": _score_event, "object": _score_object, "attribute": _score_attribute}
