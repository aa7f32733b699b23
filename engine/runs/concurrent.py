"""Several items in flight at once (servers), rows still written by one writer.

`answer_concurrently` runs `answer(item, stop)` on up to `concurrency` worker threads and
yields each finished row in the caller's thread, in completion order, so the caller appends
rows one at a time exactly as the sequential loop does (a row is one fsynced line; resume
works by index, so the order of lines does not matter). Items are handed to the pool only as
slots free up: a cancelled or killed run has at most `concurrency` items started and
unfinished, and those simply have no row yet. Closing the generator (Ctrl-C in the writer,
an exception) sets `stop` for the items in flight and starts nothing new.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Job = TypeVar("Job")
Row = TypeVar("Row")

POLL_SECONDS = 0.1


def answer_concurrently(jobs: Iterable[Job], answer: Callable[[Job, threading.Event], Row], concurrency: int,
                        cancel: threading.Event | None = None) -> Iterator[Row]:
    """Yield `answer(job, stop)` for every job, at most `concurrency` running at once."""
    stop = threading.Event()
    pending = iter(jobs)
    running: set[Future] = set()
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="avr-item")
    try:
        while True:
            cancelled = _cancelled(cancel, stop)
            while len(running) < concurrency and not cancelled:
                job = next(pending, _END)
                if job is _END:
                    break
                running.add(pool.submit(answer, job, stop))
            if not running:
                return
            finished, running = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


def _cancelled(cancel: threading.Event | None, stop: threading.Event) -> bool:
    if cancel is not None and cancel.is_set():
        stop.set()
    return stop.is_set()


_END = object()
