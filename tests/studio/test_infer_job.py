"""`avr infer --backend baseline` as a background job: a filtered batch runs, is cancelled, resumes
and loads as a run; a killed or misconfigured worker gives a clear message."""

from __future__ import annotations

import json
import os
import signal

import pytest

from avr_studio.models.session import Session
from avr_studio.workers.infer_job import InferRequest, infer_job_spec, subset_path
from avr_studio.workers.jobs import Job


@pytest.fixture
def make_job():
    jobs: list[Job] = []

    def make(spec) -> Job:
        jobs.append(Job(spec))
        return jobs[-1]

    yield make
    for job in jobs:
        job.shutdown(2.0)


def request_for(bench, out, **kwargs) -> InferRequest:
    return InferRequest(backend="baseline", dataset=bench.dataset_path, videos=bench.videos_dir, protocol="long",
                        out=out, **kwargs)


def rows(out) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_filtered_batch_runs_in_the_background_and_loads_as_a_run(qtbot, tiny_bench, tmp_path, make_job):
    chosen = tiny_bench.items[1::3][:5]
    out = tmp_path / "baseline" / "long.jsonl"
    job = make_job(infer_job_spec(request_for(tiny_bench, out), chosen))
    progress, records = [], []
    job.progress.connect(progress.append)
    job.records.connect(records.extend)
    with qtbot.waitSignal(job.finished, timeout=60000) as blocker:
        job.start()
    outcome = blocker.args[0]
    assert outcome.ok, outcome.message
    assert sorted(r["index"] for r in records) == sorted(item.index for item in chosen)
    assert progress[-1].done == 5 and progress[-1].total == 5
    assert all(r["backend"] == "baseline" and r["error"] is None for r in records)
    assert json.loads(subset_path(out).read_text())[0]["index"] == chosen[0].index
    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    run = session.add_run(out)
    assert run.reports["long"].n == 5
    assert {i for i in run.reports["long"].per_item} == {item.index for item in chosen}


def test_a_batch_is_cancelled_then_resumed_without_answering_twice(qtbot, tiny_bench, tmp_path, make_job):
    out = tmp_path / "long.jsonl"
    spec = infer_job_spec(request_for(tiny_bench, out))
    first = make_job(spec)
    first.start()
    qtbot.waitUntil(lambda: out.is_file() and len(out.read_text().splitlines()) >= 2, timeout=60000)
    with qtbot.waitSignal(first.finished, timeout=15000) as blocker:
        first.cancel()
    assert blocker.args[0].state == "cancelled"
    kept = rows(out)
    assert 2 <= len(kept) < len(tiny_bench.items)
    second = make_job(spec)
    with qtbot.waitSignal(second.finished, timeout=90000) as blocker:
        second.start()
    assert blocker.args[0].ok, blocker.args[0].message
    final = rows(out)
    indices = [r["index"] for r in final]
    assert sorted(indices) == sorted(item.index for item in tiny_bench.items)
    assert len(indices) == len(set(indices))  # resumed: nothing answered twice
    assert final[: len(kept)] == kept
    assert blocker.args[0].progress.done == len(tiny_bench.items)


def test_a_killed_worker_leaves_a_clear_message_and_its_rows(qtbot, tiny_bench, tmp_path, make_job):
    out = tmp_path / "long.jsonl"
    job = make_job(infer_job_spec(request_for(tiny_bench, out)))
    job.start()
    qtbot.waitUntil(lambda: out.is_file() and len(out.read_text().splitlines()) >= 1, timeout=60000)
    with qtbot.waitSignal(job.finished, timeout=15000) as blocker:
        os.kill(job.pid, signal.SIGKILL)
    outcome = blocker.args[0]
    assert outcome.state == "failed"
    assert outcome.message.startswith("avr infer (baseline, long) was killed (SIGKILL)")
    assert len(rows(out)) >= 1


def test_a_bad_request_fails_with_avr_infers_own_message(qtbot, tiny_bench, tmp_path, make_job):
    request = InferRequest(backend="baseline", dataset=tiny_bench.dataset_path, videos=tmp_path / "nowhere",
                           protocol="long", out=tmp_path / "long.jsonl")
    job = make_job(infer_job_spec(request))
    with qtbot.waitSignal(job.finished, timeout=30000) as blocker:
        job.start()
    outcome = blocker.args[0]
    assert outcome.state == "failed" and outcome.exit_code == 2
    assert outcome.message.endswith(f"--videos {tmp_path / 'nowhere'}: no such folder")
