"""A trl/transformers TrainerCallback that writes the run folder: stage progress in status.json,
metrics.jsonl rows, sampled completions, checkpoint paths, and the graceful stop on SIGINT/SIGTERM
(a checkpoint at the next step boundary, then the trainer stops)."""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path

from transformers import TrainerCallback

from training.run_dir import RunDir, now_iso

COMPLETIONS_PER_LOG = 4


class StopFlag:
    """Set by the signal handler; read at step boundaries and between filter rollouts."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal: int | None = None

    def set(self, signum: int | None = None) -> None:
        self.signal = signum
        self._event.set()

    def __call__(self) -> bool:
        return self._event.is_set()


class RunFolderCallback(TrainerCallback):
    def __init__(self, run: RunDir, stage: str, global_offset: int, stop: StopFlag, seed: int = 0) -> None:
        self.run = run
        self.stage = stage
        self.global_offset = global_offset
        self.stop = stop
        self.trainer = None  # set after the trainer is built (completions are read from it)
        self._rng = random.Random(seed)

    def on_train_begin(self, args, state, control, **kwargs):
        self.run.update_stage(self.stage, state="running", total_steps=state.max_steps, step=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        self.run.update_stage(self.stage, step=state.global_step)
        if self.stop():
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_save(self, args, state, control, **kwargs):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.run.update_stage(self.stage, checkpoint=str(path), step=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "train_runtime" in logs:  # the end-of-training summary repeats the last step: not a step row
            self.run.update_stage(self.stage, summary=_numbers(logs))
            return
        step = state.global_step
        row = {"stage": self.stage, "step": step, "global_step": self.global_offset + step, "time": now_iso()}
        row.update(_numbers(logs))
        self.run.log_metrics(row)
        self._log_completions(step)

    def _log_completions(self, step: int) -> None:
        logs = getattr(self.trainer, "_logs", None)
        if not logs or not logs.get("completion"):
            return
        prompts, completions = list(logs["prompt"]), list(logs["completion"])
        rewards = {name: list(values) for name, values in logs["rewards"].items()}
        advantages = list(logs["advantages"])
        picks = sorted(self._rng.sample(range(len(completions)), min(COMPLETIONS_PER_LOG, len(completions))))
        for i in picks:
            self.run.log_completion({
                "stage": self.stage, "step": step, "global_step": self.global_offset + step, "time": now_iso(),
                "prompt": _text(prompts[i]), "completion": _text(completions[i]),
                "rewards": {name: _finite(values[i]) for name, values in rewards.items() if i < len(values)},
                "advantage": _finite(advantages[i]) if i < len(advantages) else None,
            })


def _numbers(logs: dict) -> dict:
    out = {}
    for key, value in logs.items():
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = _finite(value)
    return out


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        content = value[-1].get("content", "")
        return content if isinstance(content, str) else str(content)
    return str(value)
