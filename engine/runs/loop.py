"""The batch loop: each pending item -> request -> backend text -> one appended row.

A failure on one item (missing video, model error, timeout) is written on that item's row
and the loop goes on; a later run retries it. Ctrl-C (or `cancel`) stops after marking the
manifest; every finished row is already on disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from engine.backends.base import Backend, BackendError, Cancelled, GenerationTimeout
from engine.benchmark import Item
from engine.errors import UserError
from engine.runs.concurrent import answer_concurrently
from engine.runs.manifest import write_manifest
from engine.runs.results_file import ResultsFile
from engine.runs.spec import RunSpec


@dataclass(frozen=True)
class ItemDone:
    """Progress event: one item finished (answered or failed)."""

    index: int
    position: int
    total: int
    seconds: float
    error: str | None
    answered: int
    failed: int


@dataclass(frozen=True)
class RunSummary:
    total: int
    skipped: int
    answered: int
    failed: int
    status: str


def run_batch(spec: RunSpec, items: Sequence[Item], backend: Backend, build_request: Callable,
              results: ResultsFile, on_item: Callable[[ItemDone], None] | None = None,
              cancel: threading.Event | None = None,
              on_chunk: Callable[[int, str], None] | None = None) -> RunSummary:
    """Answer every item not yet done in `results`; return the counts. `on_chunk(index, text)`
    sees the model's text as it streams (from worker threads when several items are in flight)."""
    done = results.done()
    pending = [item for item in items if item.index not in done]
    total, started = len(pending), time.time()
    answered = failed = 0

    def manifest(status: str, message: str = "") -> None:
        write_manifest(spec.out, spec.to_json(), results.identity, status, len(items),
                       len(results.done() & {i.index for i in items}), len(results.failed()), started, message)

    manifest("running")
    status = "finished"
    rows = _rows(spec, pending, backend, build_request, results.identity, cancel, on_chunk)
    try:
        for position, row in enumerate(rows, start=1):
            results.append(row)
            if row["error"] is None:
                answered += 1
                _export(spec, row)
            else:
                failed += 1
            manifest("running")
            if on_item is not None:
                on_item(ItemDone(row["index"], position, total, row["seconds"], row["error"], answered, failed))
        if answered + failed < total:
            status = "interrupted"
    except KeyboardInterrupt:
        manifest("interrupted", "stopped by the user")
        raise
    except BaseException as exc:
        manifest("failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        rows.close()  # stops the items still in flight (concurrent backends)
    manifest(status)
    return RunSummary(len(items), len(items) - total, answered, failed, status)


def _rows(spec: RunSpec, pending: Sequence[Item], backend: Backend, build_request: Callable, identity: dict,
          cancel: threading.Event | None, on_chunk: Callable[[int, str], None] | None = None,
          ) -> Generator[dict, None, None]:
    """Rows for the pending items as they finish: one at a time, or several in flight for
    backends that declare a `concurrency` above 1 (servers); this thread writes them either way."""
    concurrency = int(getattr(backend, "concurrency", 1) or 1)
    if concurrency > 1:
        def answer(item: Item, stop: threading.Event) -> dict:
            return answer_item(spec, item, backend, build_request, identity, stop, on_chunk)

        return answer_concurrently(pending, answer, concurrency, cancel)
    return _one_at_a_time(spec, pending, backend, build_request, identity, cancel, on_chunk)


def _one_at_a_time(spec: RunSpec, pending: Sequence[Item], backend: Backend, build_request: Callable,
                   identity: dict, cancel: threading.Event | None,
                   on_chunk: Callable[[int, str], None] | None = None) -> Generator[dict, None, None]:
    for item in pending:
        if cancel is not None and cancel.is_set():
            return
        yield answer_item(spec, item, backend, build_request, identity, cancel, on_chunk)


def answer_item(spec: RunSpec, item: Item, backend: Backend, build_request: Callable, identity: dict,
                cancel: threading.Event | None = None, on_chunk: Callable[[int, str], None] | None = None) -> dict:
    """One row for one item; never raises for a failure of that item alone."""
    start = time.monotonic()
    pred, error = "", None
    try:
        request = build_request(item)
        chunk_seen = (lambda text: on_chunk(item.index, text)) if on_chunk is not None else None
        pred = _generate(backend, request, spec.item_timeout, cancel, chunk_seen)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the row records any failure of this item; the run goes on
        error = _one_line(exc)
    return {"index": item.index, "pred": pred if error is None else "", "gt": item.answer, "input": item.to_json(),
            **identity, "seconds": round(time.monotonic() - start, 3), "error": error}


def _generate(backend: Backend, request, timeout: float | None, cancel: threading.Event | None,
              on_chunk: Callable[[str], None] | None = None) -> str:
    """Join the streamed chunks; a timer sets the backend's cancel flag when the item runs too long."""
    stop = threading.Event()
    timed_out = threading.Event()
    timer = None
    if timeout:
        def expire() -> None:
            timed_out.set()
            stop.set()

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    relay = _relay(cancel, stop) if cancel is not None else None
    try:
        chunks = []
        for chunk in backend.generate(request, stop):
            chunks.append(chunk)
            if on_chunk is not None:
                on_chunk(chunk)
            if timed_out.is_set():
                break
        if timed_out.is_set():
            raise GenerationTimeout(f"no answer within {timeout:g} s")
        return "".join(chunks)
    except Cancelled:
        if timed_out.is_set():
            raise GenerationTimeout(f"no answer within {timeout:g} s") from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if relay is not None:
            relay.set()


def _relay(cancel: threading.Event, stop: threading.Event) -> threading.Event:
    """Forward the run's cancel flag to this item's stop flag until the item ends."""
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(0.1):
            if cancel.is_set():
                stop.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    return finished


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (BackendError, UserError)):
        text = f"{type(exc).__name__}: {text}"
    return text[:500]


def _export(spec: RunSpec, row: dict) -> None:
    if spec.export_folder is None:
        return
    from engine.predictions import protocol_folder, write_prediction_folder

    write_prediction_folder(spec.export_folder / protocol_folder(spec.protocol),
                            [{"pred": row["pred"], "gt": row["gt"], "input": row["input"]}])
