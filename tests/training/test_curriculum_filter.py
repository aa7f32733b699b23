"""Stage review share, the filter's drops and resumability, balanced sampling: on known data."""

from __future__ import annotations

import doctest
import json
from collections import Counter

import pytest

from training import curriculum, filtering, samplers
from training.config import StageSettings
from training.curriculum import review_tasks, stage_data
from training.data import TrainSample
from training.filtering import decide, run_filter, task_rewards
from training.run_dir import read_jsonl
from training.samplers import balanced_order, difficulty_bucket


def sample(i: int, task: str, solution) -> TrainSample:
    return TrainSample(f"{task}-{i}", task, "test", "v.mp4", f"q{i}", json.dumps(solution))


POOL = ([sample(i, "qa", "A") for i in range(50)] + [sample(i, "temporal_grounding", [[0, 1]]) for i in range(40)]
        + [sample(i, "spatial_grounding", [[0, 0, 1, 1]]) for i in range(40)] + [sample(i, "counting", 3) for i in range(30)])


def stages(share: float = 0.2) -> list[StageSettings]:
    def grpo(name, tasks, **kw):
        return StageSettings(name=name, kind="grpo", tasks=tasks, review_share=share, rewards={"format_reward": 1}, **kw)
    return [StageSettings(name="sft", kind="sft", tasks=["counting", "temporal_grounding"]),
            grpo("qa", ["qa"]), grpo("grounding", ["temporal_grounding", "spatial_grounding"]),
            grpo("counting", ["counting"]),
            grpo("full", ["qa", "temporal_grounding", "spatial_grounding", "counting"], sampling="balanced")]


def test_doctests():
    for module in (curriculum, filtering, samplers):
        assert doctest.testmod(module).failed == 0


def test_review_tasks_come_from_earlier_grpo_stages_only():
    plan = stages()
    assert review_tasks(plan, 1) == []  # the sft stage before is not reviewed
    assert review_tasks(plan, 2) == ["qa"]
    assert review_tasks(plan, 3) == ["qa", "temporal_grounding", "spatial_grounding"]
    assert review_tasks(plan, 4) == []  # full-task trains everything itself


def test_review_share_on_known_data():
    data = stage_data(stages(0.2), 3, POOL, seed=1)
    assert len(data.own) == 30 and {s.task for s in data.own} == {"counting"}
    assert len(data.review) == 8  # 30 * 0.2 / 0.8 = 7.5 -> 8; 8 / 38 = 21%
    assert {s.task for s in data.review} <= {"qa", "temporal_grounding", "spatial_grounding"}
    assert data.review_fraction == pytest.approx(8 / 38)
    assert len({s.id for s in data.samples}) == 38
    grounding = stage_data(stages(0.5), 2, POOL, seed=1)
    assert len(grounding.own) == 80 and len(grounding.review) == 50  # capped by the 50 qa samples available
    assert stage_data(stages(0.0), 3, POOL, seed=1).review == ()
    assert stage_data(stages(0.2), 3, POOL, seed=1) == data  # seeded: the same draw every time


def test_filter_decisions_on_known_rewards():
    assert decide("qa", [1, 1, 1, 1, 1]) == "dropped_solved"
    assert decide("qa", [1, 1, 1, 1, 0]) == "kept"
    assert decide("spatial_grounding", [0.95, 0.92, 0.91]) == "dropped_localised"
    assert decide("spatial_grounding", [0.95, 0.9, 0.85]) == "kept"  # mean 0.9 is not above 0.9
    assert decide("counting", [0.95] * 5) == "kept"  # the IoU rule is for grounding tasks only


class ScriptedPolicy:
    """Answers each sample as its id says: exact GT (solved), near GT, or nothing; counts its calls."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, s: TrainSample, k: int) -> list[str]:
        self.calls.append(s.id)
        return [f"<think>x</think><answer>{self.answers.get(s.id, 'none')}</answer>"] * k


def test_filter_drops_solved_and_localised_samples_and_resumes_without_redoing(tmp_path):
    samples = [sample(0, "qa", "B"), sample(1, "qa", "B"), sample(0, "temporal_grounding", [[0, 10]]),
               sample(1, "temporal_grounding", [[0, 10]]), sample(0, "counting", 4)]
    policy = ScriptedPolicy({"qa-0": "B", "qa-1": "C", "temporal_grounding-0": "[[0, 9.5]]",
                             "temporal_grounding-1": "[[0, 5]]", "counting-0": "3"})
    results = tmp_path / "filter" / "stage-epoch0.jsonl"
    stop_after = {"n": 3}

    def should_stop():
        return len(policy.calls) >= stop_after["n"]

    with pytest.raises(filtering.StopRequested):
        run_filter(samples, policy, 5, results, task_rewards(["format_reward"]), 0.9, should_stop)
    assert len(read_jsonl(results)) == 3
    stop_after["n"] = 99
    result = run_filter(samples, policy, 5, results, task_rewards(["format_reward"]), 0.9, should_stop)
    assert policy.calls == ["qa-0", "qa-1", "temporal_grounding-0", "temporal_grounding-1", "counting-0"]
    assert result.counts() == {"kept": 3, "dropped_solved": 1, "dropped_localised": 1, "total": 5}
    assert [s.id for s in result.kept] == ["qa-1", "temporal_grounding-1", "counting-0"]
    assert result.outcomes["counting-0"].pass_rate == pytest.approx(0.75)
    assert result.outcomes["temporal_grounding-1"].pass_rate == pytest.approx(0.5)
    again = run_filter(samples, policy, 5, results, task_rewards(["format_reward"]), 0.9)
    assert len(policy.calls) == 5 and again.counts() == result.counts()  # nothing rolled out twice


def test_filter_uses_the_stages_own_task_reward():
    chosen = task_rewards(["format_reward", "spatial_iou_reward_official"])
    assert chosen["spatial_grounding"].__name__ == "spatial_iou_reward_official"
    assert chosen["counting"].__name__ == "count_reward"


def test_balanced_order_is_balanced_over_tasks_and_difficulty():
    samples = ([sample(i, "qa", "A") for i in range(40)] + [sample(i, "counting", 1) for i in range(4)])
    rates = {s.id: (0.0 if i % 4 else 0.9) for i, s in enumerate(samples)}  # qa: 30 hard, 10 easy
    order = balanced_order(samples, rates, buckets=3, length=400, seed=0)
    tasks = Counter(s.task for s in order)
    assert tasks == {"qa": 200, "counting": 200}
    qa_levels = Counter(difficulty_bucket(rates[s.id], 3) for s in order if s.task == "qa")
    assert qa_levels == {0: 100, 2: 100}
    assert balanced_order(samples, rates, 3, 400, seed=0) == order
    assert balanced_order([], rates, 3, 10, 0) == []
