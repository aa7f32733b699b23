"""The run-folder contract without a model: creation, status, resume refusal, forgetting redone steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.resources import resource_path
from training.run_dir import HEARTBEAT_SECONDS, RunDir, RunDirError, read_jsonl
from training.stages import EXIT_STOPPED

REPO = Path(__file__).resolve().parents[2]


def make_run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.create({"name": "t"}, [("sft", "sft"), ("grpo", "grpo")], ["avr", "train"])
    return run


def test_create_writes_run_and_status_and_refuses_a_non_empty_folder(tmp_path):
    run = make_run(tmp_path)
    status = json.loads(run.status_json.read_text())
    assert status["state"] == "pending" and status["pid"] == os.getpid()
    assert [(s["name"], s["state"]) for s in status["stages"]] == [("sft", "pending"), ("grpo", "pending")]
    info = json.loads(run.run_json.read_text())
    assert info["config"] == {"name": "t"} and info["versions"]["python"]
    with pytest.raises(RunDirError, match="not empty"):
        RunDir(run.root).create({}, [], [])


def test_heartbeat_thread_keeps_status_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr("training.run_dir.HEARTBEAT_SECONDS", 0.2)
    run = make_run(tmp_path)
    run.start_heartbeat()
    try:
        first = json.loads(run.status_json.read_text())["heartbeat_unix"]
        time.sleep(0.7)
        later = json.loads(run.status_json.read_text())["heartbeat_unix"]
    finally:
        run.stop_heartbeat()
    assert later > first and HEARTBEAT_SECONDS <= 10


def test_resume_refuses_a_live_run_and_a_done_run(tmp_path):
    run = make_run(tmp_path)
    run.update(state="running")  # this process is alive and its heartbeat fresh
    with pytest.raises(RunDirError, match="still running"):
        RunDir(run.root).open_existing()
    run.update(state="running", pid=2**22 + 12345)  # a pid that does not exist: resumable
    reopened = RunDir(run.root)
    assert reopened.open_existing()["config"] == {"name": "t"}
    assert reopened.status["pid"] == os.getpid()
    reopened.update(state="done")
    with pytest.raises(RunDirError, match="already done"):
        RunDir(run.root).open_existing()
    with pytest.raises(RunDirError, match="not a training run folder"):
        RunDir(tmp_path).open_existing()


def test_forget_steps_after_drops_only_that_stages_later_rows_and_torn_lines(tmp_path):
    run = make_run(tmp_path)
    for stage, steps in (("sft", range(1, 4)), ("grpo", range(1, 6))):
        for step in steps:
            run.log_metrics({"stage": stage, "step": step})
            run.log_completion({"stage": stage, "step": step, "completion": "x"})
    with open(run.metrics, "a") as handle:
        handle.write('{"stage": "grpo", "st')  # a line cut by kill -9
    assert run.forget_steps_after("grpo", 2) == 3 + 1 + 3
    assert [(r["stage"], r["step"]) for r in read_jsonl(run.metrics)] == [
        ("sft", 1), ("sft", 2), ("sft", 3), ("grpo", 1), ("grpo", 2)]
    assert len(read_jsonl(run.completions)) == 5


def test_last_checkpoint_needs_trainer_state(tmp_path):
    run = make_run(tmp_path)
    for step, complete in ((2, True), (4, True), (6, False)):
        folder = run.checkpoints("sft") / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    assert run.last_checkpoint("sft").name == "checkpoint-4"
    assert run.last_checkpoint("grpo") is None


def test_avr_train_refuses_a_non_empty_out_folder(tmp_path):
    (tmp_path / "old.txt").write_text("x")
    out = subprocess.run([sys.executable, "-m", "engine.cli", "train", "--config",
                          str(resource_path("stages", "smoke.yaml")), "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 2
    assert "is not empty" in out.stderr and out.stderr.strip().count("\n") == 0
    assert EXIT_STOPPED == 3
