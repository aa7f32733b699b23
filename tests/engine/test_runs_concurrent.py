"""engine.runs.concurrent: bounded parallel answers, rows handed to one writer thread."""

from __future__ import annotations

import threading
import time

from engine.runs.concurrent import answer_concurrently


class Probe:
    """Counts jobs in flight and the threads that run them."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.started: list[int] = []
        self.stopped: list[int] = []

    def __call__(self, job: int, stop: threading.Event) -> tuple[int, int]:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.started.append(job)
        if stop.wait(self.seconds):
            self.stopped.append(job)
        with self.lock:
            self.in_flight -= 1
        return job, threading.get_ident()


def test_every_job_once_at_most_n_at_once_in_parallel():
    probe = Probe(0.05)
    start = time.monotonic()
    writer = threading.get_ident()
    rows = []
    for job, worker in answer_concurrently(range(40), probe, concurrency=8):
        assert threading.get_ident() == writer and worker != writer
        rows.append(job)
    elapsed = time.monotonic() - start
    assert sorted(rows) == list(range(40))
    assert probe.peak == 8
    assert elapsed < 40 * 0.05 / 3  # parallel, not one after another


def test_cancel_starts_nothing_new_and_stops_the_running_ones():
    probe = Probe(5.0)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    start = time.monotonic()
    rows = list(answer_concurrently(range(100), probe, concurrency=4, cancel=cancel))
    assert time.monotonic() - start < 2.0
    assert len(probe.started) == 4 and sorted(probe.stopped) == sorted(probe.started)
    assert sorted(job for job, _ in rows) == sorted(probe.started)


def test_closing_the_generator_stops_the_items_in_flight():
    probe = Probe(5.0)

    def job_zero_is_quick(job: int, stop: threading.Event):
        return (job, 0) if job == 0 else probe(job, stop)

    rows = answer_concurrently(range(100), job_zero_is_quick, concurrency=3)
    assert next(rows) == (0, 0)
    start = time.monotonic()
    rows.close()
    while probe.in_flight and time.monotonic() - start < 2.0:
        time.sleep(0.01)
    assert sorted(probe.stopped) == [1, 2] and sorted(probe.started) == [1, 2]
