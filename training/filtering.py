"""Offline difficulty filtering: k rollouts of the stage's reference policy (its starting checkpoint) per
sample, before each epoch; samples it solves k/k times, or localises with mean IoU above the threshold,
are dropped (too easy to teach anything). Every sample's rollout rewards are appended to
`filter/<stage>-epoch<k>.jsonl` as they are computed, so a resumed run continues where it stopped and
never redoes a rollout; the pass rate (mean task reward over the k rollouts) is the sample's difficulty
for balanced sampling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.io import append_jsonl
from training.data import TrainSample
from training.rewards import REWARDS, Reward, task_of

GROUNDING_TASKS = ("temporal_grounding", "spatial_grounding")
DEFAULT_TASK_REWARDS = {"qa": "qa_accuracy_reward", "counting": "count_reward",
                        "temporal_grounding": "temporal_iou_reward", "spatial_grounding": "spatial_iou_reward"}
DECISIONS = ("kept", "dropped_solved", "dropped_localised")
Rollout = Callable[[TrainSample, int], list[str]]


class StopRequested(Exception):
    """SIGINT/SIGTERM arrived: stop at the next sample boundary (results so far are saved)."""


@dataclass(frozen=True)
class FilterOutcome:
    sample_id: str
    task: str
    rewards: tuple[float, ...]
    decision: str

    @property
    def pass_rate(self) -> float:
        return sum(self.rewards) / len(self.rewards) if self.rewards else 0.0

    def to_json(self) -> dict:
        return {"id": self.sample_id, "task": self.task, "rewards": list(self.rewards),
                "pass_rate": self.pass_rate, "decision": self.decision}


@dataclass(frozen=True)
class FilterResult:
    kept: tuple[TrainSample, ...]
    outcomes: dict[str, FilterOutcome]

    def counts(self) -> dict[str, int]:
        counter = Counter(o.decision for o in self.outcomes.values())
        return {d: counter.get(d, 0) for d in DECISIONS} | {"total": len(self.outcomes)}


def decide(task: str, rewards: Sequence[float], iou_threshold: float = 0.9) -> str:
    """kept, dropped_solved (every rollout scores 1) or dropped_localised (grounding, mean IoU > threshold).

    >>> decide("counting", [1, 1, 1]), decide("counting", [1, 0.5, 1]), decide("temporal_grounding", [0.95, 0.9])
    ('dropped_solved', 'kept', 'dropped_localised')
    """
    if rewards and all(r >= 1.0 for r in rewards):
        return "dropped_solved"
    if task in GROUNDING_TASKS and rewards and sum(rewards) / len(rewards) > iou_threshold:
        return "dropped_localised"
    return "kept"


def task_rewards(stage_rewards: Sequence[str]) -> dict[str, Reward]:
    """The reward that scores each task's rollouts: the stage's own task reward, else the default."""
    chosen = {task: REWARDS[name] for task, name in DEFAULT_TASK_REWARDS.items()}
    for name in stage_rewards:
        task = task_of(REWARDS[name])
        if task is not None:
            chosen[task] = REWARDS[name]
    return chosen


def run_filter(samples: Sequence[TrainSample], rollout: Rollout, k: int, results_path: Path,
               rewards: dict[str, Reward], iou_threshold: float = 0.9,
               should_stop: Callable[[], bool] = lambda: False) -> FilterResult:
    """Roll out and score every sample not already in `results_path`; keep the ones worth training on."""
    from training.run_dir import read_jsonl

    done = {row["id"]: row for row in read_jsonl(results_path) if "id" in row}
    outcomes: dict[str, FilterOutcome] = {}
    for sample in samples:
        row = done.get(sample.id)
        if row is None:
            if should_stop():
                raise StopRequested()
            completions = rollout(sample, k)
            scores = rewards[sample.task](completions, solution=[sample.solution] * len(completions))
            values = tuple(float(s or 0.0) for s in scores)
            outcome = FilterOutcome(sample.id, sample.task, values, decide(sample.task, values, iou_threshold))
            append_jsonl(results_path, outcome.to_json())
        else:
            outcome = FilterOutcome(sample.id, row["task"], tuple(row["rewards"]), row["decision"])
        outcomes[sample.id] = outcome
    kept = tuple(s for s in samples if outcomes[s.id].decision == "kept")
    return FilterResult(kept, outcomes)


class ModelRollout:
    """k sampled completions of one sample from a model, decoded as trl decodes them (special tokens
    skipped), with the sample's media exactly as in training."""

    def __init__(self, model, processor, media_cache, max_new_tokens: int, temperature: float = 1.0) -> None:
        self.model = model
        self.processor = processor
        self.media_cache = media_cache
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    def __call__(self, sample: TrainSample, k: int) -> list[str]:
        import torch

        from training.inputs import collate_media, media_of
        from training.trainers import media_token_ids

        entry = self.media_cache.get(sample)
        device = next(self.model.parameters()).device
        inputs = {key: value.to(device) for key, value in collate_media([media_of(entry)] * k).items()}
        inputs["input_ids"] = entry["input_ids"].repeat(k, 1).to(device)
        inputs["attention_mask"] = entry["attention_mask"].repeat(k, 1).to(device)
        with torch.no_grad():
            out = self.model.generate(**inputs, do_sample=True, temperature=self.temperature,
                                      max_new_tokens=self.max_new_tokens,
                                      suppress_tokens=media_token_ids(self.processor) or None)
        completions = out[:, inputs["input_ids"].shape[1]:]
        return self.processor.batch_decode(completions, skip_special_tokens=True)
