"""Multi-resolution min/max envelope of an audio track, for drawing waveforms of long files.

Level k holds the min and max of every run of `base_bucket * 2**k` samples. A query
for `n_pixels` over [t0, t1] picks the coarsest level whose bucket is still no wider
than one pixel and reduces the (fewer than 2 per pixel, on average) buckets under
each pixel, so any window of a 60-minute track costs O(pixels). Zoomed in further
than one base bucket per pixel, each pixel shows the base bucket under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_BASE_BUCKET = 64  # 4 ms at 16 kHz: finest detail kept, 1/32 of the samples' size on disk
COARSEST_LEVEL_BUCKETS = 256


@dataclass(frozen=True)
class EnvelopeLevel:
    """Min and max of each consecutive `bucket`-sample run (the last run may be shorter)."""

    bucket: int
    mins: np.ndarray
    maxs: np.ndarray


@dataclass(frozen=True)
class EnvelopePyramid:
    """Envelope levels, finest first, of `sample_count` samples at `sample_rate`."""

    sample_rate: int
    sample_count: int
    levels: tuple[EnvelopeLevel, ...]

    @property
    def duration(self) -> float:
        return self.sample_count / self.sample_rate

    @classmethod
    def build(
        cls, samples: np.ndarray, sr: int, base_bucket: int = DEFAULT_BASE_BUCKET
    ) -> EnvelopePyramid:
        """Pyramid of one array of mono samples."""
        return cls.build_from_blocks([samples], sr, base_bucket)

    @classmethod
    def build_from_blocks(
        cls, blocks: Iterable[np.ndarray], sr: int, base_bucket: int = DEFAULT_BASE_BUCKET
    ) -> EnvelopePyramid:
        """Pyramid of a track delivered in consecutive blocks, so the whole track need not be in memory."""
        mins, maxs, count = _base_level(blocks, base_bucket)
        levels = [EnvelopeLevel(base_bucket, mins, maxs)]
        while len(levels[-1].mins) > COARSEST_LEVEL_BUCKETS:
            levels.append(_halve(levels[-1]))
        return cls(sample_rate=int(sr), sample_count=count, levels=tuple(levels))

    def level_for(self, samples_per_pixel: float) -> EnvelopeLevel:
        """Coarsest level whose bucket is no wider than one pixel (the finest if none is)."""
        chosen = self.levels[0]
        for level in self.levels:
            if level.bucket <= samples_per_pixel:
                chosen = level
        return chosen

    def query(self, t0: float, t1: float, n_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pixel (center times, mins, maxs) over [t0, t1]; NaN where the window is past the audio."""
        if n_pixels <= 0 or not t1 > t0:
            raise ValueError(f"need t1 > t0 and n_pixels > 0, got [{t0}, {t1}] and {n_pixels}")
        level = self.level_for((t1 - t0) * self.sample_rate / n_pixels)
        starts, stops = pixel_bucket_ranges(t0, t1, n_pixels, self.sample_rate, level.bucket, len(level.mins))
        mins = np.full(n_pixels, np.nan, dtype=np.float32)
        maxs = np.full(n_pixels, np.nan, dtype=np.float32)
        inside = starts < len(level.mins)
        if inside.any():
            mins[inside], maxs[inside] = _reduce_ranges(level, starts[inside], stops[inside])
        times = t0 + (np.arange(n_pixels) + 0.5) * ((t1 - t0) / n_pixels)
        return times, mins, maxs

    def save(self, path: str | Path) -> None:
        """Write as an uncompressed .npz (callers make it atomic)."""
        arrays = {"meta": np.array([self.sample_rate, self.sample_count], dtype=np.int64)}
        for k, level in enumerate(self.levels):
            arrays[f"bucket_{k}"] = np.array(level.bucket, dtype=np.int64)
            arrays[f"mins_{k}"] = level.mins
            arrays[f"maxs_{k}"] = level.maxs
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> EnvelopePyramid:
        with np.load(path, allow_pickle=False) as data:
            sample_rate, sample_count = (int(v) for v in data["meta"])
            levels = []
            k = 0
            while f"mins_{k}" in data:
                levels.append(EnvelopeLevel(int(data[f"bucket_{k}"]), data[f"mins_{k}"], data[f"maxs_{k}"]))
                k += 1
        return cls(sample_rate=sample_rate, sample_count=sample_count, levels=tuple(levels))


def pixel_bucket_ranges(
    t0: float, t1: float, n_pixels: int, sr: int, bucket: int, n_buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Half-open bucket ranges [start, stop) under each pixel; at least one bucket per pixel."""
    edges = t0 + np.arange(n_pixels + 1) * ((t1 - t0) / n_pixels)
    bucket_edges = np.clip(np.floor(edges * sr / bucket), 0, n_buckets).astype(np.int64)
    starts = bucket_edges[:-1]
    stops = np.minimum(np.maximum(bucket_edges[1:], starts + 1), n_buckets)
    return starts, stops


def _reduce_ranges(level: EnvelopeLevel, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.all(stops - starts == 1):  # zoomed in: one bucket per pixel
        return level.mins[starts], level.maxs[starts]
    # Ranges tile [starts[0], stops[-1]) without gaps here, which is what reduceat needs.
    span = slice(0, int(stops[-1]))
    return np.minimum.reduceat(level.mins[span], starts), np.maximum.reduceat(level.maxs[span], starts)


def _base_level(blocks: Iterable[np.ndarray], bucket: int) -> tuple[np.ndarray, np.ndarray, int]:
    mins: list[np.ndarray] = []
    maxs: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.float32)
    count = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        count += len(block)
        joined = np.concatenate([carry, block]) if len(carry) else block
        whole = len(joined) // bucket * bucket
        runs = joined[:whole].reshape(-1, bucket)
        mins.append(runs.min(axis=1))
        maxs.append(runs.max(axis=1))
        carry = joined[whole:]
    if len(carry):
        mins.append(carry.min(keepdims=True))
        maxs.append(carry.max(keepdims=True))
    empty = np.zeros(0, dtype=np.float32)
    return (np.concatenate(mins) if mins else empty), (np.concatenate(maxs) if maxs else empty), count


def _halve(level: EnvelopeLevel) -> EnvelopeLevel:
    mins, maxs = level.mins, level.maxs
    if len(mins) % 2:
        mins, maxs = np.append(mins, mins[-1]), np.append(maxs, maxs[-1])
    return EnvelopeLevel(
        bucket=level.bucket * 2,
        mins=np.minimum(mins[0::2], mins[1::2]),
        maxs=np.maximum(maxs[0::2], maxs[1::2]),
    )
