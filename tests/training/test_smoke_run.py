"""The shipped smoke config end to end through `avr train` (one shared run: see conftest.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.training.conftest import SFT_SAVE_STEPS, read_json, read_rows
from training.curriculum import review_count

pytestmark = pytest.mark.slow
STAGES = ["sft", "grpo_qa", "grpo_grounding", "grpo_counting", "full_task"]
GRPO = STAGES[1:]


def test_sigterm_stops_gracefully_with_a_checkpoint(smoke_run):
    assert smoke_run.stop_code == 3
    status = smoke_run.stop_status
    assert status["state"] == "stopped"
    sft = status["stages"][0]
    assert sft["state"] == "stopped" and sft["step"] >= 3
    assert f"checkpoint-{sft['step']}" in smoke_run.stop_checkpoints  # saved at the step boundary it stopped on
    assert all(s["state"] == "pending" for s in status["stages"][1:])


def test_kill_9_then_resume_neither_repeats_nor_loses_a_step(smoke_run):
    assert smoke_run.kill_code == 128 + 9
    assert smoke_run.killed_step % SFT_SAVE_STEPS != 0  # logged, never checkpointed: redone after the resume
    assert smoke_run.final_code == 0
    rows = read_rows(smoke_run.root / "metrics.jsonl")
    status = read_json(smoke_run.root / "status.json")
    for record in status["stages"]:
        steps = [r["step"] for r in rows if r["stage"] == record["name"]]
        assert steps == list(range(1, record["step"] + 1)), record["name"]  # each step once, in order
    global_steps = [r["global_step"] for r in rows]
    assert global_steps == list(range(1, len(rows) + 1))
    completions = read_rows(smoke_run.root / "completions.jsonl")
    per_step = Counter((c["stage"], c["step"]) for c in completions)
    assert max(per_step.values()) <= 4  # a redone step's sampled completions are not doubled
    assert len(set(smoke_run.trainer_pids)) >= 3 and not set(smoke_run.trainer_pids) & set(smoke_run.avr_pids)


def test_every_stage_done_with_checkpoints_and_metrics(smoke_run):
    root = smoke_run.root
    status = read_json(root / "status.json")
    assert status["state"] == "done" and status["error"] is None
    assert [s["name"] for s in status["stages"]] == STAGES
    rows = read_rows(root / "metrics.jsonl")
    for record in status["stages"]:
        assert record["state"] == "done" and record["step"] >= 2, record
        assert (root / "checkpoints" / record["name"] / "final" / "model.safetensors").is_file()
        assert any((root / "checkpoints" / record["name"]).glob("checkpoint-*/trainer_state.json"))
        assert list((root / "tensorboard" / record["name"]).glob("events.out.tfevents.*"))
        assert any(r["stage"] == record["name"] and "loss" in r for r in rows)
    run = read_json(root / "run.json")
    assert run["config"]["name"] == "smoke" and run["versions"]["trl"].startswith("1.16")


def test_heartbeat_is_fresh_while_running(smoke_run):
    assert smoke_run.heartbeat_ages and max(smoke_run.heartbeat_ages) <= 10.0


def test_sft_teaches_the_answer_format_and_every_grpo_stage_gets_a_signal(smoke_run):
    sft = read_json(smoke_run.root / "status.json")["stages"][0]
    assert sft["format_probe_after"] > sft["format_probe_before"]
    rows = read_rows(smoke_run.root / "metrics.jsonl")
    for stage in GRPO:
        stage_rows = [r for r in rows if r["stage"] == stage]
        assert stage_rows and all("rewards/format_reward/mean" in r and "kl" in r and "completions/mean_length" in r
                                  for r in stage_rows)
        # varied rewards within a step: non-zero advantages, so the stage really learns something
        assert max(r.get("reward_std") or 0.0 for r in stage_rows) > 0, (stage, stage_rows)
    # the grounding stage's signal comes from grounding answers that parse and overlap the truth,
    # not only from its QA review sample
    grounding = [r for r in rows if r["stage"] in ("grpo_grounding", "full_task")]
    assert any((r.get("rewards/temporal_iou_reward/mean") or 0.0) > 0 or (r.get("rewards/spatial_iou_reward/mean") or 0.0) > 0
               for r in grounding)


def test_filter_review_and_completions_are_recorded(smoke_run):
    root = smoke_run.root
    filters = read_rows(root / "filter.jsonl")
    assert [(f["stage"], f["epoch"]) for f in filters] == [(s, 0) for s in GRPO]
    for f in filters:
        assert f["kept"] + f["dropped_solved"] + f["dropped_localised"] == f["total"] > 0
        assert len(read_rows(root / "filter" / f"{f['stage']}-epoch0.jsonl")) == f["total"]
    stages = {s["name"]: s for s in read_json(root / "status.json")["stages"]}
    for name in ("grpo_grounding", "grpo_counting"):  # 20% review: n own -> round(n * 0.2 / 0.8)
        assert stages[name]["review_samples"] == review_count(stages[name]["samples"], 0.2) >= 1
    completions = read_rows(root / "completions.jsonl")
    assert {c["stage"] for c in completions} == set(GRPO)
    assert all("format_reward" in c["rewards"] and isinstance(c["completion"], str) for c in completions)
