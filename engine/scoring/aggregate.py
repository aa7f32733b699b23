"""Benchmark-level metrics from per-item scores, and grouped breakdowns with bootstrap CIs."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.benchmark import Item
from engine.results import ClueReport, ClueScore, CountScore, Interval95, LongReport, Mode
from engine.scoring.blackbox import score_count
from engine.scoring.whitebox import score_clue


def evaluate_long(records: Iterable[tuple[Item, str, int | None]], mode: Mode = "official") -> LongReport:
    """Acc / OBOA (%), MAE, RMSE over (item, prediction text, gt) triples."""
    return long_report([score_count(item, pred, gt, mode) for item, pred, gt in records])


def long_report(scores: Sequence[CountScore]) -> LongReport:
    n = len(scores)
    if n == 0:
        return LongReport(0.0, 0.0, 0.0, 0.0, 0, 0, {})
    acc = 100 * sum(s.correct for s in scores) / n
    oboa = 100 * sum(s.off_by_one for s in scores) / n
    mae = sum(s.mae_term for s in scores) / n
    rmse = math.sqrt(sum(s.mse_term for s in scores) / n)
    failures = sum(s.failed for s in scores)
    return LongReport(acc, oboa, mae, rmse, n, failures, {s.index: s for s in scores})


def evaluate_clue(records: Iterable[tuple[Item, str]], mode: Mode = "official") -> ClueReport:
    """WCS (%) and IFA over (item, prediction text) pairs."""
    return clue_report([score_clue(item, pred, mode) for item, pred in records])


def clue_report(scores: Sequence[ClueScore]) -> ClueReport:
    n = len(scores)
    if n == 0:
        return ClueReport(0.0, 0.0, 0, {})
    wcs = 100 * sum(s.score for s in scores) / n
    ifa = 1 - sum(s.failed for s in scores) / n
    return ClueReport(wcs, ifa, n, {s.index: s for s in scores})


# ---------------------------------------------------------------- breakdowns
@dataclass(frozen=True)
class GroupStats:
    name: str
    n: int
    metrics: dict[str, float]
    ci: dict[str, Interval95]


def _long_columns(scores: Sequence[CountScore]) -> dict[str, np.ndarray]:
    return {
        "acc": np.array([100.0 * s.correct for s in scores]),
        "oboa": np.array([100.0 * s.off_by_one for s in scores]),
        "mae": np.array([s.mae_term for s in scores], dtype=float),
        "mse": np.array([s.mse_term for s in scores], dtype=float),
    }


def _clue_columns(scores: Sequence[ClueScore]) -> dict[str, np.ndarray]:
    return {
        "wcs": np.array([100.0 * s.score for s in scores]),
        "ifa": np.array([0.0 if s.failed else 1.0 for s in scores]),
    }


def _finish(means: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Turn mean columns into reported metrics (RMSE from the mean squared term)."""
    out = dict(means)
    if "mse" in out:
        out["rmse"] = np.sqrt(out.pop("mse"))
    return out


def _group_key(key: str) -> Callable[[Item], str]:
    if key == "category":
        return lambda item: item.category
    if key == "modality":
        return lambda item: item.modality or "unspecified"
    return lambda item: str(item.raw.get(key, "unspecified"))


def group_stats(
    report: LongReport | ClueReport,
    items: Iterable[Item],
    key: str = "category",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, GroupStats]:
    """Metrics per group (plus "all") with seeded percentile-bootstrap 95% intervals."""
    return group_stats_by(report, items, [key], n_boot, seed)[key]


def group_stats_by(
    report: LongReport | ClueReport,
    items: Iterable[Item],
    keys: Sequence[str],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, GroupStats]]:
    """`group_stats` for several keys at once; the "all" group (the costliest) is resampled once."""
    by_index = {item.index: item for item in items}
    columns_of = _long_columns if isinstance(report, LongReport) else _clue_columns
    scores = list(report.per_item.values())
    every = _group_stats("all", columns_of, scores, n_boot, seed) if scores else None
    out: dict[str, dict[str, GroupStats]] = {}
    for key in keys:
        name_of = _group_key(key)
        groups: dict[str, list] = {}
        for index, score in report.per_item.items():
            item = by_index.get(index)
            groups.setdefault(name_of(item) if item else "unspecified", []).append(score)
        stats = {"all": every} if every is not None else {}
        stats.update((name, _group_stats(name, columns_of, members, n_boot, seed)) for name, members in groups.items())
        out[key] = stats
    return out


def _group_stats(name: str, columns_of: Callable, scores: list, n_boot: int, seed: int) -> GroupStats:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8", "surrogatepass"))])
    return _stats(name, columns_of(scores), rng, n_boot)


#: Bootstrap draws held at once (resamples x items); bounds memory whatever the set's size.
_DRAWS_PER_CHUNK = 1 << 22


def _stats(name: str, columns: dict[str, np.ndarray], rng: np.random.Generator, n_boot: int) -> GroupStats:
    n = len(next(iter(columns.values())))
    point = _finish({k: np.array(v.mean()) for k, v in columns.items()})
    boot = _finish(_bootstrap_means(columns, rng, n_boot, n))
    ci = {k: Interval95(float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in boot.items()}
    return GroupStats(name, n, {k: float(v) for k, v in point.items()}, ci)


def _bootstrap_means(columns: dict[str, np.ndarray], rng: np.random.Generator, n_boot: int, n: int) -> dict[str, np.ndarray]:
    """Each column's mean over `n_boot` resamples with replacement, drawn a chunk of resamples at a
    time so memory stays a few tens of MB however many items and resamples there are."""
    means = {k: np.empty(n_boot) for k in columns}
    per_chunk = max(1, _DRAWS_PER_CHUNK // max(n, 1))
    for first in range(0, n_boot, per_chunk):
        count = min(per_chunk, n_boot - first)
        draws = rng.integers(0, n, size=(count, n))
        for k, v in columns.items():
            means[k][first : first + count] = v[draws].mean(axis=1)
    return means
