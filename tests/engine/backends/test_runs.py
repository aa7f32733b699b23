"""The batch loop and its results file: per-item failures, timeouts, resume, identity, torn lines."""

from __future__ import annotations

import json
import threading
import time

import pytest

from engine.backends.base import BackendError, Cancelled, ModelRequest
from engine.backends.inputs import AudioPolicy, InputError, RequestBuilder, audio_spans
from engine.backends.prompts import load_prompt_set
from engine.runs import ResultsFile, RunMismatch, RunSpec, run_batch
from engine.runs.manifest import manifest_path

IDENTITY = {"backend": "test", "model": "m1", "reasoning": "direct", "prompt_set": "official", "prompt_hash": "abc"}


class ScriptedBackend:
    """A real Backend: answers `count:<index>`, fails or hangs (until cancelled) on chosen items."""

    name = "scripted"
    model_id = "m1"

    def __init__(self, fail: set[int] = frozenset(), hang: set[int] = frozenset()) -> None:
        self.fail, self.hang, self.calls = set(fail), set(hang), []

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None):
        self.calls.append(request.index)
        if request.index in self.fail:
            raise BackendError(f"model failed on {request.index}\nsecond line")
        if request.index in self.hang:
            assert cancel is not None
            while not cancel.wait(0.01):
                pass
            raise Cancelled("stopped")
        yield "count:"
        yield str(request.index)

    def close(self) -> None:
        pass


def _spec(tiny_bench, out, **more) -> RunSpec:
    return RunSpec(backend="test", dataset=tiny_bench.dataset, videos=tiny_bench.videos, protocol="long", out=out, **more)


def _builder(tiny_bench) -> RequestBuilder:
    return RequestBuilder(load_prompt_set("official"), tiny_bench.videos, "long", "direct")


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_failures_are_recorded_and_retried_later_rows_win(tiny_bench, tiny_items, tmp_path):
    items = tiny_items[:6]
    out = tmp_path / "run.jsonl"
    spec = _spec(tiny_bench, out, item_timeout=1.0)
    backend = ScriptedBackend(fail={items[1].index}, hang={items[2].index})
    builder = _builder(tiny_bench)
    missing = items[3].__class__(**{**items[3].__dict__, "video": "gone.mp4"})
    batch = [items[0], items[1], items[2], missing, items[4], items[5]]
    started = time.monotonic()
    summary = run_batch(spec, batch, backend, builder.build, ResultsFile.open(out, IDENTITY))
    assert time.monotonic() - started < 20
    assert (summary.answered, summary.failed, summary.status) == (3, 3, "finished")
    rows = {row["index"]: row for row in _rows(out)}
    assert rows[items[0].index]["pred"] == f"count:{items[0].index}" and rows[items[0].index]["error"] is None
    assert rows[items[1].index]["error"] == f"model failed on {items[1].index} second line"
    assert "no answer within 1 s" in rows[items[2].index]["error"]
    assert "video not found" in rows[missing.index]["error"] and rows[missing.index]["pred"] == ""
    assert set(rows[items[0].index]) == {"index", "pred", "gt", "input", "backend", "model", "reasoning",
                                         "prompt_set", "prompt_hash", "seconds", "error"}
    manifest = json.loads(manifest_path(out).read_text())
    assert (manifest["status"], manifest["done"], manifest["failed"]) == ("finished", 3, 3)

    retry = ScriptedBackend()
    results = ResultsFile.open(out, IDENTITY)
    summary = run_batch(spec, [items[0], items[1], items[2], items[4], items[5]], retry, builder.build, results)
    assert sorted(retry.calls) == sorted([items[1].index, items[2].index])
    assert (summary.skipped, summary.answered, summary.failed) == (3, 2, 0)
    latest = ResultsFile.open(out, IDENTITY).latest
    assert latest[items[1].index]["error"] is None and latest[items[1].index]["pred"] == f"count:{items[1].index}"
    assert len(_rows(out)) == 8  # 6 first rows + 2 retries appended, nothing rewritten


def test_another_model_or_prompt_set_is_refused(tmp_path):
    out = tmp_path / "run.jsonl"
    out.write_text(json.dumps({"index": 1, "pred": "3", **IDENTITY, "error": None}) + "\n")
    for key, value in (("model", "m2"), ("prompt_hash", "def"), ("backend", "other"), ("reasoning", "thinking")):
        with pytest.raises(RunMismatch, match=key):
            ResultsFile.open(out, {**IDENTITY, key: value})
    assert ResultsFile.open(out, IDENTITY).done() == {1}
    ResultsFile.precheck(out, {k: v for k, v in IDENTITY.items() if k != "model"})
    with pytest.raises(RunMismatch, match="prompt_set"):
        ResultsFile.precheck(out, {"backend": "test", "prompt_set": "default"})


def test_torn_last_line_is_cut_and_its_item_rerun(tmp_path):
    out = tmp_path / "run.jsonl"
    good = json.dumps({"index": 1, "pred": "3", **IDENTITY, "error": None}) + "\n"
    torn = json.dumps({"index": 2, "pred": "4", **IDENTITY, "error": None})[:37]
    out.write_text(good + torn)
    results = ResultsFile.open(out, IDENTITY)
    assert results.torn_bytes == len(torn) and results.done() == {1}
    assert out.read_text() == good
    results.append({"index": 2, "pred": "4", **IDENTITY, "error": None})
    assert [row["index"] for row in _rows(out)] == [1, 2]


def test_audio_policy_fits_long_videos():
    hour = (0.0, 3600.0)
    centres = [36.0 + 72.0 * i for i in range(50)]
    spans, note = audio_spans(hour, centres, True, AudioPolicy())
    total = sum(s.end - s.start for s in spans)
    assert len(spans) == 50 and total == pytest.approx(600.0) and "50 window(s)" in note
    assert all(s.start <= c <= s.end for s, c in zip(spans, centres, strict=True))
    whole, note = audio_spans((10.0, 300.0), centres[:5], True, AudioPolicy())
    assert [(s.start, s.end) for s in whole] == [(10.0, 300.0)] and "whole" in note
    assert audio_spans(hour, centres, True, AudioPolicy(enabled=False))[0] == ()
    assert audio_spans(hour, centres, False, AudioPolicy())[0] == ()
    dense = [1000.0 + i for i in range(50)]  # windows that touch merge into one
    merged, _ = audio_spans(hour, dense, True, AudioPolicy())
    assert len(merged) == 1 and merged[0].start == pytest.approx(994.0)


def test_missing_video_is_an_input_error(tiny_bench, tiny_items):
    item = tiny_items[0].__class__(**{**tiny_items[0].__dict__, "video": "nope.mp4"})
    with pytest.raises(InputError, match="video not found"):
        _builder(tiny_bench).build(item)
