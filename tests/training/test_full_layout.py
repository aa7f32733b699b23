"""A full Qwen2.5-Omni checkpoint (thinker + talker layout, what `avr dev tiny-model --full-layout`
writes) as the training model: the run saves its thinker on its own first, because trl rebuilds the
reference model from the policy's saved path when beta > 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def micro_config(model_path: Path) -> dict:
    """One GRPO stage, one step, no filter: the least that builds the policy and the reference model."""
    return {
        "name": "full-layout", "model": {"path": str(model_path), "dtype": "float32"},
        "inputs": {"num_frames": 2},
        "data": [{"reader": "synth", "tasks": ["counting"],
                  "generate": {"videos": 1, "minutes": 0.1, "width": 128, "height": 72, "fps": 5}}],
        "stages": [
            {"name": "grpo", "kind": "grpo", "tasks": ["counting"], "max_samples": 1,
             "rewards": {"format_reward": 1, "count_reward": 10},
             "trainer": {"bf16": False, "max_steps": 1, "per_device_train_batch_size": 2, "num_generations": 2,
                         "max_completion_length": 8, "beta": 0.1, "logging_steps": 1, "save_steps": 1,
                         "activation_checkpointing": False}},
        ],
    }


def tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for shard in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(shard)))
    return out


@pytest.mark.slow
def test_grpo_from_a_full_layout_checkpoint_trains_its_thinker(tmp_path):
    import torch

    from engine.dev.full_layout import wrap_full_layout
    from engine.dev.tiny_model import build_tiny_model

    thinker = build_tiny_model(tmp_path / "thinker")
    full = wrap_full_layout(thinker, tmp_path / "full")  # what `avr dev tiny-model --full-layout` does
    assert json.loads((full / "config.json").read_text())["model_type"] == "qwen2_5_omni"
    config = tmp_path / "full.yaml"
    config.write_text(yaml.safe_dump(micro_config(full)))
    run = tmp_path / "run"
    out = subprocess.run([sys.executable, "-m", "engine.cli", "train", "--config", str(config), "--out", str(run)],
                         capture_output=True, text=True, cwd=REPO, timeout=600)
    assert out.returncode == 0, (out.stderr + (run / "train.log").read_text())[-3000:]

    init = run / "model_init"  # the thinker on its own, with its processor
    assert json.loads((init / "config.json").read_text())["model_type"] == "qwen2_5_omni_thinker"
    assert (init / "processor_config.json").is_file() or (init / "preprocessor_config.json").is_file()
    saved, original = tensors(init), tensors(thinker)
    assert saved.keys() == original.keys()  # a thinker's own key names: no "thinker." prefix, none left behind
    assert all(torch.equal(saved[k], original[k]) for k in original)  # the checkpoint's weights, not a fresh init

    status = json.loads((run / "status.json").read_text())
    stage = status["stages"][0]
    assert status["state"] == "done" and stage["state"] == "done" and stage["step"] == 1
    assert stage["start_checkpoint"] == str(init)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["kl"] is not None  # beta > 0: the reference model was built and used
    final = run / "checkpoints" / "grpo" / "final"
    assert json.loads((final / "config.json").read_text())["model_type"] == "qwen2_5_omni_thinker"
    assert tensors(final).keys() == original.keys()
