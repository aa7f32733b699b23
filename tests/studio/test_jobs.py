"""The background job runner with real child processes: progress, records, cancel, resume, crashes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from avr_studio.workers.jobs import Job, JobSpec
from tests.studio.stall_probe import StallProbe

ROWS_JOB = Path(__file__).with_name("rows_job.py")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups and nice are POSIX")


@pytest.fixture
def make_job():
    """Jobs built through this are stopped at the test's end, even when it fails."""
    jobs: list[Job] = []

    def make(spec: JobSpec) -> Job:
        jobs.append(Job(spec))
        return jobs[-1]

    yield make
    for job in jobs:
        job.shutdown(1.0)


def rows_spec(out: Path, *flags: str, items: int = 5, **kwargs) -> JobSpec:
    argv = (sys.executable, str(ROWS_JOB), "--out", str(out), "--items", str(items), *flags)
    return JobSpec(name="rows job", argv=argv, output=out, total=items, **kwargs)


def run_to_end(qtbot, job: Job, timeout: int = 20000):
    with qtbot.waitSignal(job.finished, timeout=timeout) as blocker:
        job.start()
    return blocker.args[0]


def output_indices(path: Path) -> list[int]:
    return [json.loads(line)["index"] for line in path.read_text().splitlines()]


def test_job_streams_records_and_progress_to_completion(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    job = make_job(rows_spec(out, "--delay", "0.1", threads=1, poll_ms=50))
    records, progress, log = [], [], []
    job.records.connect(records.extend)
    job.progress.connect(progress.append)
    job.log.connect(log.append)
    outcome = run_to_end(qtbot, job)
    assert outcome.ok, outcome.message
    assert [r["index"] for r in records] == [0, 1, 2, 3, 4]
    assert progress[-1].done == 5 and progress[-1].fraction == 1.0
    assert len(progress) >= 2 and progress[0].done < 5  # it moved while the job ran
    assert any(p.rate for p in progress) and any(p.eta_seconds is not None for p in progress[:-1])
    assert "5/5 items" in outcome.message
    assert records[0]["nice"] == os.getpriority(os.PRIO_PROCESS, 0) + 10 or records[0]["nice"] == 19
    assert records[0]["threads"] == "1"
    assert log == ["starting 5 items", "all done"]


def test_cancel_stops_the_job_and_a_second_run_resumes(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    spec = rows_spec(out, "--delay", "0.1", items=30, poll_ms=50)
    first = make_job(spec)
    first.start()
    qtbot.waitUntil(lambda: out.is_file() and len(out.read_text().splitlines()) >= 3, timeout=10000)
    with qtbot.waitSignal(first.finished, timeout=5000) as blocker:
        first.cancel()
    cancelled = blocker.args[0]
    assert cancelled.state == "cancelled" and cancelled.signal == signal.SIGTERM
    assert "cancelled after" in cancelled.message
    kept = output_indices(out)
    assert 3 <= len(kept) < 30
    second = make_job(spec)
    initial = []
    second.records.connect(lambda rows: initial.append(len(rows)) if not initial else None)
    outcome = run_to_end(qtbot, second)
    assert outcome.ok
    assert initial[0] == len(kept)  # rows already there were read at once
    assert sorted(output_indices(out)) == list(range(30))  # resumed, nothing done twice
    assert outcome.progress.done == 30


def test_cancel_kills_a_job_that_ignores_sigterm(qtbot, tmp_path, make_job):
    job = make_job(rows_spec(tmp_path / "rows.jsonl", "--ignore-term", "--delay", "0.2", items=100, stop_timeout_s=0.5))
    job.start()
    qtbot.waitUntil(lambda: bool(job.log_tail) and job.log_tail[0].startswith("starting"), timeout=10000)
    started = time.monotonic()
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        job.cancel()
    assert blocker.args[0].state == "cancelled"
    assert blocker.args[0].signal == signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 3.0


def test_cancel_reaches_the_jobs_own_children(qtbot, tmp_path, make_job):
    pid_file = tmp_path / "child.pid"
    job = make_job(rows_spec(tmp_path / "rows.jsonl", "--spawn-child", str(pid_file), "--delay", "0.2", items=100))
    job.start()
    qtbot.waitUntil(lambda: pid_file.is_file() and bool(pid_file.read_text()), timeout=10000)
    child = int(pid_file.read_text())
    with qtbot.waitSignal(job.finished, timeout=8000):
        job.cancel()

    def child_gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{child}/stat") as handle:  # a zombie awaiting its (dead) parent's reaper is gone too
            assert handle.read().split(") ")[1].startswith("Z")

    qtbot.waitUntil(child_gone, timeout=5000)


def test_a_killed_job_gives_a_clear_message(qtbot, tmp_path, make_job):
    job = make_job(rows_spec(tmp_path / "rows.jsonl", "--delay", "0.2", items=100))
    job.start()
    qtbot.waitUntil(lambda: bool(job.log_tail and job.pid), timeout=10000)
    with qtbot.waitSignal(job.finished, timeout=5000) as blocker:
        os.kill(job.pid, signal.SIGKILL)
    outcome = blocker.args[0]
    assert outcome.state == "failed" and outcome.signal == signal.SIGKILL
    assert outcome.message.startswith("rows job was killed (SIGKILL)")
    assert not job.running


def test_a_failing_job_reports_its_exit_code_and_last_words(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    outcome = run_to_end(qtbot, make_job(rows_spec(out, "--fail-at", "2", "--delay", "0.01")))
    assert outcome.state == "failed" and outcome.exit_code == 3
    assert outcome.message == "rows job failed (exit code 3): error: boom at item 2"
    assert output_indices(out) == [0, 1]  # what was finished is kept
    assert outcome.progress.done == 2


def test_a_program_that_cannot_start_fails_cleanly(qtbot, tmp_path, make_job):
    spec = JobSpec(name="ghost", argv=(str(tmp_path / "no-such-program"),), niceness=0)
    outcome = run_to_end(qtbot, make_job(spec))
    assert outcome.state == "failed"
    assert outcome.message.startswith("ghost could not start")


def test_torn_lines_wait_for_their_newline(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    job = make_job(rows_spec(out, "--torn", "--delay", "0.01", items=3, poll_ms=20))
    records, bad = [], []
    job.records.connect(records.extend)
    job.bad_line.connect(bad.append)
    outcome = run_to_end(qtbot, job)
    assert outcome.ok
    assert bad == []
    assert [r["index"] for r in records] == [0, 1, 2]
    assert all(r["pred"].startswith("answer") for r in records)


def test_event_lines_drive_progress_and_stream_text(qtbot, tmp_path, make_job):
    argv = (sys.executable, str(ROWS_JOB), "--items", "4", "--delay", "0.01", "--progress-events")
    job = make_job(JobSpec(name="events", argv=argv))
    progress, log, events = [], [], []
    job.progress.connect(progress.append)
    job.log.connect(log.append)
    job.event.connect(events.append)
    outcome = run_to_end(qtbot, job)
    assert outcome.ok
    assert [p.done for p in progress] == [1, 2, 3, 4]
    assert [e["text"] for e in events] == [f"thinking about {i}" for i in range(4)]
    assert progress[-1].total == 4
    assert not any("progress" in line for line in log)  # events are consumed, not logged


def test_gui_thread_keeps_running_while_a_job_writes_fast(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    job = make_job(rows_spec(out, "--delay", "0.002", items=600, poll_ms=50))
    seen = []
    job.records.connect(seen.extend)
    with StallProbe() as probe, qtbot.waitSignal(job.finished, timeout=30000) as blocker:
        job.start()
    assert blocker.args[0].ok
    assert len(seen) == 600
    probe.assert_no_stall()


def test_a_big_existing_output_is_read_in_slices_without_freezing_the_window(qtbot, tmp_path, make_job):
    out = tmp_path / "rows.jsonl"
    old = 40000
    with open(out, "w") as handle:  # ~5 MB left by earlier runs (a long metrics.jsonl, a resumed batch)
        for index in range(old):
            handle.write(json.dumps({"index": index, "pred": "x" * 100}) + "\n")
    job = make_job(rows_spec(out, "--delay", "0.4", items=old + 3, poll_ms=50))
    seen, progress = [], []
    job.records.connect(seen.extend)
    job.progress.connect(progress.append)
    with StallProbe() as probe, qtbot.waitSignal(job.finished, timeout=60000) as blocker:
        job.start()
    assert blocker.args[0].ok
    assert len(seen) == old + 3 and seen[-1]["index"] == old + 2
    assert probe.max_busy < 0.050, f"a slice held the GUI thread {probe.max_busy * 1000:.1f} ms"
    assert progress[-1].done == old + 3
    rates = [p.rate for p in progress if p.rate]
    assert rates and max(rates) < 100  # the rate counts this job's 3 rows, not the 40000 found
