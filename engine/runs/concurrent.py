"""Several items in flight at once (servers), rows still written by one writer.

`answer_concurrently` runs `answer(item, stop)` on up to `concurrency` threads and
yields each finished row in the caller's thread, in completion order, so the caller appends
rows one at a time exactly as the sequential loop does (a row is one fsynced line; resume
works by index, so the order of lines does not matter). Items are started only as
slots free up, so at most `concurrency` items are ever started and unfinished: after a kill
they have no row (a rerun runs them); after `cancel` they end early with an error row (a
rerun retries them). Closing the generator (Ctrl-C in the writer, an exception) sets `stop`
for the items in flight and starts nothing new.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Job = TypeVar("Job")
Row = TypeVar("Row")

POLL_SECONDS = 0.1


def answer_concurrently(jobs: Iterable[Job], answer: Callable[[Job, threading.Event], Row], concurrency: int,
                        cancel: threading.Event | None = None) -> Iterator[Row]:
    """Yield `answer(job, stop)` for every job, at most `concurrency` running at once.

    Each job runs on its own daemon thread: a process interrupted with Ctrl-C exits at once
    instead of waiting for requests still hanging on a server (their items have no row and
    are run again on resume).
    """
    stop = threading.Event()
    finished: queue.Queue = queue.Queue()
    pending = iter(jobs)
    running = 0

    def run(job: Job) -> None:
        try:
            finished.put((True, answer(job, stop)))
        except BaseException as exc:  # handed to the writer thread, which re-raises it
            finished.put((False, exc))

    try:
        while True:
            cancelled = _cancelled(cancel, stop)
            while running < concurrency and not cancelled:
                job = next(pending, _END)
                if job is _END:
                    break
                threading.Thread(target=run, args=(job,), daemon=True, name="avr-item").start()
                running += 1
            if not running:
                return
            try:
                ok, value = finished.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            running -= 1
            if not ok:
                raise value
            yield value
    finally:
        stop.set()


def _cancelled(cancel: threading.Event | None, stop: threading.Event) -> bool:
    if cancel is not None and cancel.is_set():
        stop.set()
    return stop.is_set()


_END = object()
