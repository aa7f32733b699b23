"""Overlap measures used by the white-box score (and by training rewards)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.results import Box


def interval_iou(gt: Sequence[float], pred: Sequence[float]) -> float:
    """tIoU exactly as the benchmark computes it: sides taken as given (no reordering)."""
    inter = max(0.0, min(gt[1], pred[1]) - max(gt[0], pred[0]))
    span = max(gt[1], pred[1]) - min(gt[0], pred[0])
    return inter / span if span != 0 else 0.0


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Area IoU after reordering each box to [min x, min y, max x, max y]."""
    return normalised_iou(Box(*a).normalised(), Box(*b).normalised())


def normalised_iou(a: Box, b: Box) -> float:
    """Area IoU of two boxes whose corners are already ordered (`Box.normalised`)."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    iw = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    ih = max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
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
