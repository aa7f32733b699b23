"""Frames that carry their own index as black/white blocks, so decoders are checked, not trusted.

Used by the media tests and `benchmarks/bench_media.py` to measure frame accuracy exactly:
16 blocks (8 x 2, bit 0 top-left) survive H.264 at any sane quality.
"""

from __future__ import annotations

import numpy as np

BITS = 16
COLUMNS = 8


def draw_index(frame: np.ndarray, index: int, block: int) -> np.ndarray:
    """Paint `index` into the top band of `frame` (in place) and return it."""
    for bit in range(BITS):
        row, column = divmod(bit, COLUMNS)
        frame[row * block : (row + 1) * block, column * block : (column + 1) * block] = 255 * ((index >> bit) & 1)
    return frame


def read_index(frame: np.ndarray, block: int) -> int:
    """Read the index back by thresholding each block's inner mean (RGB or BGR alike)."""
    margin = block // 5
    index = 0
    for bit in range(BITS):
        row, column = divmod(bit, COLUMNS)
        inner = frame[row * block + margin : (row + 1) * block - margin, column * block + margin : (column + 1) * block - margin]
        index |= int(inner.mean() > 128) << bit
    return index
