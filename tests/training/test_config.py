"""Pipeline config: messages name the field path and the allowed values; trl fields checked by trl's types."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from engine.resources import resource_path
from training.config import ConfigError, Task, load_config, parse_config
from training.rewards import TASKS

REPO = Path(__file__).resolve().parents[2]


def minimal(**stage) -> dict:
    base = {"name": "g", "kind": "grpo", "tasks": ["counting"], "rewards": {"format_reward": 1, "count_reward": 10},
            "trainer": {"bf16": False}}
    return {"model": {"path": "tiny"}, "data": [{"reader": "jsonl", "path": "x.jsonl"}], "stages": [base | stage]}


def problems(data: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return dict(info.value.problems)


def test_task_literal_matches_the_reward_tasks():
    assert typing.get_args(Task) == TASKS


@pytest.mark.parametrize("name", ["smoke.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    config = load_config(resource_path("stages", name))
    assert [s.kind for s in config.stages] == ["sft", "grpo", "grpo", "grpo", "grpo"]
    assert config.stages[-1].sampling == "balanced"


def test_paper_config_sets_what_differs_from_trl():
    config = load_config(resource_path("stages", "paper.yaml"))
    for stage in config.stages[1:]:
        assert stage.trainer["beta"] == 0.1 and stage.trainer["loss_type"] == "grpo"
        assert stage.trainer["max_completion_length"] == 1024
        assert stage.rewards["format_reward"] == 1 and all(w == 10 for n, w in stage.rewards.items() if n != "format_reward")
        assert stage.filter.rollouts == 5 and stage.filter.iou_threshold == 0.9
    assert [s.review_share for s in config.stages[2:4]] == [0.2, 0.2]
    assert config.model.freeze_vision and config.model.freeze_audio


def test_errors_name_field_paths_and_allowed_values():
    data = minimal(kind="rl", tasks=["counting", "caption"])
    data["model"]["dtype"] = "float64"
    found = problems(data)
    assert "'sft' or 'grpo'" in found["stages[0].kind"]
    assert "'qa', 'temporal_grounding', 'spatial_grounding' or 'counting'" in found["stages[0].tasks[1]"]
    assert "'auto', 'float32', 'bfloat16' or 'float16'" in found["model.dtype"]


def test_stage_rules():
    assert "unknown reward 'accuracy'" in problems(minimal(rewards={"accuracy": 1}))["stages[0].rewards"]
    found = problems(minimal(rewards={"format_reward": 1, "qa_accuracy_reward": 10}))
    assert "scores qa rows but the stage's tasks are ['counting']" in found["stages[0]"]
    assert "set by avr train" in problems(minimal(trainer={"output_dir": "x"}))["stages[0]"]
    assert "less than 1" in problems(minimal(review_share=1.0))["stages[0].review_share"]
    twice = minimal()
    twice["stages"].append(dict(twice["stages"][0]))
    assert "'g' repeats" in problems(twice)[""]


def test_trl_fields_are_checked_against_trl():
    found = problems(minimal(trainer={"loss_type": "ppo", "num_generationz": 4, "learning_rate": "fast",
                                      "bf16": False}))
    assert "must be one of grpo, dr_grpo, dapo" in found["stages[0].trainer.loss_type"]
    assert "not a GRPOConfig field (did you mean" in found["stages[0].trainer.num_generationz"]
    assert "valid number" in found["stages[0].trainer.learning_rate"]
    found = problems(minimal(trainer={"per_device_train_batch_size": 3, "num_generations": 2, "bf16": False}))
    assert "divisible by num_generations" in found["stages[0].trainer"]


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    path = tmp_path / "conf" / "run.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(minimal()))
    config = load_config(path)
    assert config.data[0].path == str(tmp_path / "conf" / "x.jsonl")
    assert config.model.path == "tiny"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", "train", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_avr_train_check_json(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(minimal(trainer={"loss_type": "ppo", "bf16": False})))
    out = run_cli("--check", "--config", str(bad), "--json")
    assert out.returncode == 2
    report = json.loads(out.stdout)
    assert report["ok"] is False
    assert report["errors"][0]["path"] == "stages[0].trainer.loss_type"
    good = run_cli("--check", "--config", str(resource_path("stages", "paper.yaml")), "--json")
    assert good.returncode == 0, good.stderr
    paper = json.loads(good.stdout)
    assert paper["ok"] is True and [s["name"] for s in paper["stages"]][0] == "sft"
    assert any(w.startswith("model.path:") and "does not exist here" in w for w in paper["warnings"])
    import torch

    if not torch.cuda.is_available():
        assert any(w.startswith("stages[0].trainer.bf16") for w in paper["warnings"])


def test_avr_train_argument_errors_are_one_line():
    out = run_cli("--config", "x.yaml")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "give --config FILE --out DIR" in out.stderr


def test_engine_never_imports_training():
    code = ("import sys, engine.cli; engine.cli.build_parser(); "
            "print([m for m in sys.modules if m.startswith(('training', 'torch', 'trl', 'transformers'))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
