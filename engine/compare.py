"""Paired comparison of two runs on the same items: is B better than A, and by how much?

Both runs are scored by the engine as usual; only the items both runs answered are paired. For
every metric the difference B - A comes with a paired percentile-bootstrap 95% interval (the same
resampled items for both runs, so item difficulty cancels out). For Acc the discordant items are
counted and tested with an exact two-sided McNemar (binomial) test. Items found in one run only
are listed, never paired.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from engine.benchmark import Item
from engine.results import ClueReport, LongReport
from engine.scoring.aggregate import _clue_columns, _finish, _long_columns

#: Metrics in display order, per report kind.
LONG_METRICS = ("acc", "oboa", "mae", "rmse")
CLUE_METRICS = ("wcs", "ifa")
#: For these metrics a lower value is better (the sign of "B better" flips).
LOWER_IS_BETTER = frozenset({"mae", "rmse"})
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
#: Bootstrap draws per chunk, so memory stays bounded by n_items x this, not by the resamples.
_CHUNK = 100
#: Share of a run's answers carrying `<answer>` tags from which it is called a thinking run.
THINKING_SHARE = 0.5
GROUP_KEYS = ("category", "modality")


@dataclass(frozen=True)
class MetricDiff:
    """One metric on the paired items: A, B, B - A and its paired bootstrap 95% interval."""

    metric: str
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class McNemar:
    """Acc discordance: items only A got right, items only B got right, exact two-sided p."""

    a_only_right: int
    b_only_right: int
    p_value: float


@dataclass(frozen=True)
class PairedStats:
    """The paired comparison of one group of items (all items, or one category/modality)."""

    name: str
    n: int
    metrics: tuple[MetricDiff, ...]
    mcnemar: McNemar | None

    def metric(self, name: str) -> MetricDiff:
        return next(m for m in self.metrics if m.metric == name)


@dataclass(frozen=True)
class ProtocolComparison:
    """One protocol: the overall paired stats, the same per category/modality, the unpaired items."""

    protocol: str
    overall: PairedStats
    groups: dict[str, tuple[PairedStats, ...]]
    only_a: tuple[int, ...]
    only_b: tuple[int, ...]


def exact_mcnemar(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: P(X <= min) x 2 for X ~ Binomial(a_only + b_only, 1/2).

    >>> exact_mcnemar(0, 0)
    1.0
    >>> round(exact_mcnemar(1, 9), 6)  # 2 * (1 + 10) / 1024
    0.021484
    """
    n, k = a_only + b_only, min(a_only, b_only)
    if n == 0:
        return 1.0
    total, term = 0, 1
    for i in range(k + 1):  # exact integers: no underflow for large n
        total += term
        term = term * (n - i) // (i + 1)
    return min(1.0, 2 * total / 2**n)


def compare_reports(
    protocol: str,
    report_a: LongReport | ClueReport,
    report_b: LongReport | ClueReport,
    items: Mapping[int, Item],
    n_boot: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> ProtocolComparison:
    """Pair the two reports' items and compare them overall and per category and modality."""
    if isinstance(report_a, LongReport) != isinstance(report_b, LongReport):
        raise ValueError(f"{protocol}: the two reports are of different kinds")
    paired = sorted(set(report_a.per_item) & set(report_b.per_item))
    only_a = tuple(sorted(set(report_a.per_item) - set(report_b.per_item)))
    only_b = tuple(sorted(set(report_b.per_item) - set(report_a.per_item)))
    overall = _paired_stats("all", paired, report_a, report_b, n_boot, seed, protocol)
    groups = {key: _grouped(key, paired, report_a, report_b, items, n_boot, seed, protocol) for key in GROUP_KEYS}
    return ProtocolComparison(protocol, overall, groups, only_a, only_b)


def _grouped(key: str, paired: list[int], report_a, report_b, items: Mapping[int, Item], n_boot: int,
             seed: int, protocol: str) -> tuple[PairedStats, ...]:
    name_of = _group_name(key)
    members: dict[str, list[int]] = {}
    for index in paired:
        item = items.get(index)
        members.setdefault(name_of(item) if item else "unspecified", []).append(index)
    if set(members) <= {"unspecified"}:
        return ()  # the items carry no such field
    return tuple(_paired_stats(name, members[name], report_a, report_b, n_boot, seed, f"{protocol}/{key}")
                 for name in sorted(members))


def _group_name(key: str) -> Callable[[Item], str]:
    if key == "category":
        return lambda item: item.category
    return lambda item: item.modality or "unspecified"


def _paired_stats(name: str, indices: list[int], report_a, report_b, n_boot: int, seed: int,
                  stream: str) -> PairedStats:
    is_long = isinstance(report_a, LongReport)
    columns = _long_columns if is_long else _clue_columns
    col_a = columns([report_a.per_item[i] for i in indices])
    col_b = columns([report_b.per_item[i] for i in indices])
    names = LONG_METRICS if is_long else CLUE_METRICS
    if not indices:
        return PairedStats(name, 0, (), None)
    point_a, point_b = _finish_means(col_a), _finish_means(col_b)
    rng = np.random.default_rng([seed, zlib.crc32(f"{stream}/{name}".encode())])
    diffs = _bootstrap_diffs(col_a, col_b, len(indices), n_boot, rng)
    metrics = []
    for metric in names:
        low, high = _percentiles(diffs.get(metric), point_b[metric] - point_a[metric])
        metrics.append(MetricDiff(metric, point_a[metric], point_b[metric], point_b[metric] - point_a[metric],
                                  low, high))
    mcnemar = _mcnemar(indices, report_a, report_b) if is_long else None
    return PairedStats(name, len(indices), tuple(metrics), mcnemar)


def _finish_means(columns: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(v) for k, v in _finish({k: np.array(v.mean()) for k, v in columns.items()}).items()}


def _bootstrap_diffs(col_a: dict[str, np.ndarray], col_b: dict[str, np.ndarray], n: int, n_boot: int,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """B - A for every resample of the paired items (the same draw for both runs)."""
    chunks: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < n_boot:
        size = min(_CHUNK, n_boot - done)
        draws = rng.integers(0, n, size=(size, n))
        boot_a = _finish({k: v[draws].mean(axis=1) for k, v in col_a.items()})
        boot_b = _finish({k: v[draws].mean(axis=1) for k, v in col_b.items()})
        for key in boot_a:
            chunks.setdefault(key, []).append(boot_b[key] - boot_a[key])
        done += size
    return {k: np.concatenate(v) for k, v in chunks.items()}


def _percentiles(values: np.ndarray | None, point: float) -> tuple[float, float]:
    if values is None or values.size == 0:
        return point, point
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _mcnemar(indices: Iterable[int], report_a: LongReport, report_b: LongReport) -> McNemar:
    a_only = sum(1 for i in indices if report_a.per_item[i].correct and not report_b.per_item[i].correct)
    b_only = sum(1 for i in indices if report_b.per_item[i].correct and not report_a.per_item[i].correct)
    return McNemar(a_only, b_only, exact_mcnemar(a_only, b_only))


# ---------------------------------------------------------------- thinking runs
def answer_tag_share(preds: Iterable[object]) -> float:
    """Share of answers carrying an `<answer>` tag (non-text answers count as untagged)."""
    texts = list(preds)
    if not texts:
        return 0.0
    return sum(isinstance(t, str) and "<answer>" in t for t in texts) / len(texts)


def looks_thinking(preds: Iterable[object]) -> bool:
    """Most answers are `<answer>`-tagged: the official rule (word2number on the whole text) reads
    none of their counts, so such a run should be compared in strict mode."""
    return answer_tag_share(preds) > THINKING_SHARE


def thinking_note(names: Iterable[str], mode: str) -> str | None:
    """The warning to show next to official-mode numbers that involve a thinking run, else None."""
    names = list(names)
    if mode != "official" or not names:
        return None
    return (f"{', '.join(names)}: most answers are <answer>-tagged; the official rule reads counts with "
            "word2number on the whole answer, so these score as failures. Strict mode reads the tags.")


def finite_or_none(value: float) -> float | None:
    """JSON has no Infinity/NaN: such values are reported as null."""
    return value if math.isfinite(value) else None
