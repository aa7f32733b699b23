"""The Engine tab's reading of a run folder (no Qt): incremental metrics, corrupt and torn lines,
liveness from pid + heartbeat, stage ETA, checkpoints, config field lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from avr_studio.models.config_check import field_line, read_check_output, templates, yaml_syntax_message
from avr_studio.models.train_run import STALE_HEARTBEAT_S, Series, TrainRun, judge_liveness, smooth


def _row(stage: str, step: int, global_step: int, **values) -> dict:
    return {"stage": stage, "step": step, "global_step": global_step,
            "time": f"2026-01-01T00:00:{global_step:02d}+00:00", **values}


def _append(path, rows) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


def _status(root, state="running", pid=None, age=0.0, **extra) -> None:
    stages = [{"name": "sft", "kind": "sft", "state": state, "step": 2, "total_steps": 6},
              {"name": "grpo_qa", "kind": "grpo", "state": "pending", "step": 0, "total_steps": None}]
    (root / "status.json").write_text(json.dumps({"state": state, "pid": pid or os.getpid(),
                                                  "heartbeat_unix": time.time() - age, "stages": stages,
                                                  "error": extra.get("error")}))


def test_metrics_are_read_incrementally_only_new_bytes(tmp_path):
    _status(tmp_path)
    metrics = tmp_path / "metrics.jsonl"
    _append(metrics, [_row("sft", s, s, loss=10.0 - s) for s in range(1, 4)])
    run = TrainRun(tmp_path)
    first = run.poll()
    assert len(first.metrics) == 3 and run.series["loss"].values.values.tolist() == [9.0, 8.0, 7.0]
    offset = run._tails["metrics.jsonl"].offset
    assert offset == metrics.stat().st_size
    assert run.poll().metrics == ()  # nothing new: nothing read
    _append(metrics, [_row("grpo_qa", 1, 4, loss=0.5, **{"rewards/format_reward/mean": 0.25, "kl": 0.01})])
    second = run.poll()
    assert len(second.metrics) == 1 and run._tails["metrics.jsonl"].offset > offset
    assert run.series["loss"].steps.values.tolist() == [1, 2, 3, 4]
    assert run.series["rewards/format_reward/mean"].values.values.tolist() == [0.25]
    assert run.stage_starts == {"sft": 1.0, "grpo_qa": 4.0}


def test_corrupt_and_truncated_metrics_lines_give_messages_not_crashes(tmp_path):
    _status(tmp_path)
    metrics = tmp_path / "metrics.jsonl"
    _append(metrics, [_row("sft", 1, 1, loss=1.0)])
    with open(metrics, "a") as handle:
        handle.write('{"stage": "sft", "step": 2, "glob\n')  # corrupt (a torn write followed by more)
    _append(metrics, [_row("sft", 3, 3, loss=3.0)])
    with open(metrics, "a") as handle:
        handle.write('{"stage": "sft", "step": 4, "global_step": 4, "lo')  # truncated: still being written
    run = TrainRun(tmp_path)
    update = run.poll()
    assert [r["step"] for r in update.metrics] == [1, 3]
    assert len(update.problems) == 1 and "metrics.jsonl: skipped a corrupt line" in update.problems[0]
    assert run.torn_metrics_bytes > 0  # the unfinished line waits for its newline
    with open(metrics, "a") as handle:
        handle.write('ss": 4.0}\n')
    assert [r["step"] for r in run.poll().metrics] == [4] and run.torn_metrics_bytes == 0


def test_missing_folder_stale_heartbeat_dead_pid_and_failure_are_named(tmp_path):
    assert judge_liveness(tmp_path / "nope", None).state == "missing"
    assert "does not exist" in TrainRun(tmp_path / "nope").liveness().message
    assert "no status.json" in judge_liveness(tmp_path, None).message
    _status(tmp_path, age=1.0)
    run = TrainRun(tmp_path)
    run.poll()
    assert run.liveness().state == "running"
    _status(tmp_path, age=STALE_HEARTBEAT_S + 60)
    run.poll()
    live = run.liveness()
    assert live.state == "dead" and "heartbeat stale" in live.message
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _status(tmp_path, pid=gone.pid, age=1.0)
    run.poll()
    assert run.liveness().state == "dead" and f"pid {gone.pid} is gone" in run.liveness().message
    _status(tmp_path, state="failed", error="ValueError: boom")
    run.poll()
    assert run.liveness().state == "failed" and "boom" in run.liveness().message


def test_stage_eta_from_the_stage_step_rate_and_checkpoints_in_order(tmp_path):
    _status(tmp_path)
    _append(tmp_path / "metrics.jsonl", [_row("sft", 1, 1, loss=1.0), _row("sft", 2, 3, loss=1.0)])
    for stage, name in (("grpo_qa", "checkpoint-1"), ("sft", "checkpoint-2"), ("sft", "final"), ("sft", "checkpoint-10")):
        (tmp_path / "checkpoints" / stage / name).mkdir(parents=True)
    run = TrainRun(tmp_path)
    run.poll()
    sft = run.stages()[0]
    assert sft.state == "running" and sft.total_steps == 6
    assert sft.eta_s == 4 * 2.0  # rows 2 s apart per step (times differ by global step), 4 steps left
    names = [f"{p.parent.name}/{p.name}" for p in run.checkpoints()]
    assert names == ["sft/checkpoint-2", "sft/checkpoint-10", "sft/final", "grpo_qa/checkpoint-1"]


def test_incremental_smoothing_equals_smoothing_everything_at_once():
    rng = np.random.default_rng(0)
    values = rng.normal(size=1000)
    series = Series()
    for chunk in np.array_split(values, 7):
        series.add([(0.0, v) for v in chunk])
        series.smoothed(0.6)
    whole, _state = smooth(values, 0.6)
    assert np.allclose(series.smoothed(0.6), whole)
    assert np.allclose(series.smoothed(0.0), values)
    assert abs(whole[0] - values[0]) < 1e-12  # debiased: the first point is the value itself


def test_config_messages_point_at_the_field_line_through_merged_anchors():
    text = templates()["smoke.yaml"].read_text()
    lines = text.splitlines()
    lr_line = field_line(text, "stages[1].trainer.learning_rate")
    assert lines[lr_line].strip().startswith("learning_rate: 0.0001")
    bf16 = field_line(text, "stages[2].trainer.bf16")  # inherited through `<<: *cpu`: the merge key's line
    assert "<<" in lines[bf16] or "trainer" in lines[bf16]
    assert lines[field_line(text, "model.dtype")].strip().startswith("dtype:")
    out = json.dumps({"ok": False, "errors": [{"path": "model.dtype", "message": "bad"}], "warnings": []})
    messages = read_check_output(text, ["FutureWarning: noise", out])
    assert messages[0].level == "error" and messages[0].line == field_line(text, "model.dtype")
    assert "line" in messages[0].text() and "model.dtype" in messages[0].text()
    broken = yaml_syntax_message("a: [1, 2\nb: 3\n")
    assert broken is not None and broken.level == "error" and broken.line is not None
    assert read_check_output(text, ["Traceback ...", "boom"])[0].message.endswith("boom")


def test_the_studio_side_imports_no_training_torch_or_trl():
    code = ("import sys, avr_studio.main_window, avr_studio.widgets.engine_tab, avr_studio.widgets.reward_inspector\n"
            "print(sorted(m for m in ('training', 'torch', 'trl', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_filter_rows_and_the_latest_steps_completions(tmp_path):
    _status(tmp_path)
    _append(tmp_path / "filter.jsonl", [{"stage": "grpo_qa", "epoch": 0, "kept": 3, "dropped_solved": 1,
                                         "dropped_localised": 0, "total": 4},
                                        {"stage": "grpo_grounding", "epoch": 0, "kept": 2, "dropped_solved": 0,
                                         "dropped_localised": 2, "total": 4}])
    completion = {"stage": "grpo_qa", "completion": "x", "rewards": {"format_reward": 1.0}}
    _append(tmp_path / "completions.jsonl", [{**completion, "global_step": 7}, {**completion, "global_step": 8}])
    run = TrainRun(tmp_path)
    run.poll()
    assert run.filter_rows() == [("grpo_qa", 0, 3, 1, 0), ("grpo_grounding", 0, 2, 0, 2)]
    assert [c["global_step"] for c in run.latest_completions] == [8]
    _append(tmp_path / "completions.jsonl", [{**completion, "global_step": 8}])  # same step, later poll
    run.poll()
    assert [c["global_step"] for c in run.latest_completions] == [8, 8]
    _append(tmp_path / "completions.jsonl", [{**completion, "global_step": 9}])
    run.poll()
    assert [c["global_step"] for c in run.latest_completions] == [9]
