"""Overlap measures used by the white-box score (and by training rewards)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.results import Box

# The IoUs below spell max(a, b) as `b if b > a else a` and min(a, b) as `b if b < a else a`: the
# same values as the builtins (operands are finite numbers), without a call per comparison; they
# run hundreds of thousands of times on a large prediction file.


def interval_iou(gt: Sequence[float], pred: Sequence[float]) -> float:
    """tIoU exactly as the benchmark computes it: sides taken as given (no reordering)."""
    g0, g1 = gt[0], gt[1]
    p0, p1 = pred[0], pred[1]
    inter = (p1 if p1 < g1 else g1) - (p0 if p0 > g0 else g0)
    if not inter > 0.0:
        return 0.0
    span = (p1 if p1 > g1 else g1) - (p0 if p0 < g0 else g0)
    return inter / span if span != 0 else 0.0


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Area IoU after reordering each box to [min x, min y, max x, max y]."""
    return normalised_iou(Box(*a).normalised(), Box(*b).normalised())


def normalised_iou(a: Box, b: Box) -> float:
    """Area IoU of two boxes whose corners are already ordered (`Box.normalised`)."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = (bx2 if bx2 < ax2 else ax2) - (bx1 if bx1 > ax1 else ax1)
    ih = (by2 if by2 < ay2 else ay2) - (by1 if by1 > ay1 else ay1)
    inter = (iw if iw > 0.0 else 0.0) * (ih if ih > 0.0 else 0.0)
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0


def normalised_array(boxes: Sequence[Sequence[float]]) -> np.ndarray:
    """`Box.normalised` applied to many boxes at once: an (n, 4) float array of ordered corners."""
    raw = np.array(boxes, dtype=float).reshape(-1, 4)
    x, y = raw[:, 0::2], raw[:, 1::2]
    return np.stack([x.min(axis=1), y.min(axis=1), x.max(axis=1), y.max(axis=1)], axis=1)


def count_penalty(n_pred: int, n_gt: int) -> float:
    """CAP = 1 - | |P| - |G| | / max(|G|, 1) (may be negative; callers clamp at 0)."""
    return 1 - abs(n_pred - n_gt) / max(n_gt, 1)
