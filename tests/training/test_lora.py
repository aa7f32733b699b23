"""LoRA through peft: each stage continues the same adapter; every final checkpoint is an adapter
folder the transformers backend can load on its base model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = {
    "name": "lora", "model": {"path": "tiny", "dtype": "float32", "lora": {"r": 4, "alpha": 8}},
    "inputs": {"num_frames": 2},
    "data": [{"reader": "synth", "generate": {"videos": 1, "minutes": 0.1, "width": 128, "height": 72, "fps": 5}}],
    "stages": [
        {"name": "sft", "kind": "sft", "tasks": ["counting", "qa"], "format_probe": 0,
         "trainer": {"bf16": False, "max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1,
                     "save_steps": 2, "activation_checkpointing": False}},
        {"name": "grpo", "kind": "grpo", "tasks": ["counting"], "max_samples": 2,
         "filter": {"rollouts": 1, "max_new_tokens": 8}, "rewards": {"format_reward": 1, "count_reward": 10},
         "trainer": {"bf16": False, "max_steps": 2, "per_device_train_batch_size": 2, "num_generations": 2,
                     "max_completion_length": 8, "beta": 0.1, "logging_steps": 1, "save_steps": 2,
                     "activation_checkpointing": False}},
    ],
}


@pytest.mark.slow
def test_lora_stages_write_adapters_on_the_base_model(tmp_path):
    from engine.backends.model_folder import inspect_model_folder

    config = tmp_path / "lora.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    out = subprocess.run([sys.executable, "-m", "engine.cli", "train", "--config", str(config), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    base = tmp_path / "run" / "model_init"
    for stage in ("sft", "grpo"):
        final = tmp_path / "run" / "checkpoints" / stage / "final"
        assert (final / "adapter_model.safetensors").is_file() and not (final / "model.safetensors").exists()
        folder = inspect_model_folder(final)
        assert folder.adapter == final and folder.weights == base
        adapter = json.loads((final / "adapter_config.json").read_text())
        assert "language_model" in str(adapter["target_modules"])  # frozen encoders get no adapter
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "done"
    assert status["stages"][1]["start_checkpoint"].endswith("checkpoints/sft/final")
