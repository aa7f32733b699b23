"""Building many small values at once (a 73,000-line prediction file, its items and scores).

CPython's cyclic garbage collector runs again and again while such a heap grows and walks every
live container each time; on a 50 MB file that was 40% of `avr eval`'s time. The values built here
(dicts and lists from JSON, frozen dataclasses, tuples) hold no reference cycles, so reference
counting alone frees them: the collector is paused for the bulk work and resumed after it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def acyclic_bulk_work() -> Iterator[None]:
    """Pause the cyclic collector while building acyclic values; nested uses are fine."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
