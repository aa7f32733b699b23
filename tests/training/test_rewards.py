"""Rewards against hand-computed values: both completion shapes, unreadable answers, spam, routing."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pytest

from training import rewards
from training.rewards import (
    REWARDS,
    count_reward,
    format_reward,
    qa_accuracy_reward,
    reward_by_name,
    spatial_iou_reward,
    spatial_iou_reward_official,
    temporal_iou_reward,
)


def wrap(answer: str, think: str = "reasoning") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


def chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def test_doctests_pass():
    result = doctest.testmod(rewards)
    assert result.attempted >= 15 and result.failed == 0


def test_rewards_module_imports_neither_torch_nor_trl():
    code = "import sys, training.rewards; print(any(m in sys.modules for m in ('torch', 'trl', 'transformers')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("shape", [str, chat])
def test_format_reward_general(shape):
    texts = [wrap("3"), "<answer>3</answer>", "<think>x</think>", wrap("3") + " trailing words", "", "   " + wrap("3")]
    assert format_reward([shape(t) for t in texts]) == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_format_reward_checks_each_rows_task_shape():
    completions = [wrap("[[1, 2], [3, 4.5]]"), wrap("[[1, 2, 3]]"), wrap('{"Frame1": [[0, 0, 5, 5]]}'),
                   wrap("[[0, 0, 5]]"), wrap("B"), wrap("7")]
    tasks = ["temporal_grounding", "temporal_grounding", "spatial_grounding", "spatial_grounding", "qa", "counting"]
    assert format_reward(completions, task=tasks) == [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("shape", [str, chat])
def test_qa_accuracy(shape):
    completions = [wrap("B"), wrap("(b)"), wrap("B. the drum"), wrap("A"), "B", wrap("Because")]
    assert qa_accuracy_reward([shape(c) for c in completions], solution=["B"] * 6) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    assert qa_accuracy_reward([wrap("the Drum.")], solution=["the drum"]) == [1.0]
    assert qa_accuracy_reward([wrap("B")], solution=[json.dumps("B")]) == [1.0]


@pytest.mark.parametrize("shape", [str, chat])
def test_count_reward_hand_values(shape):
    completions = [wrap("4"), wrap("3"), wrap("6"), wrap("12"), wrap("three"), wrap("I count 5 beeps"), "4", wrap("many")]
    expected = [1.0, 0.75, 0.5, 0.0, 0.75, 0.75, 0.0, 0.0]
    assert count_reward([shape(c) for c in completions], solution=[4] * 8) == expected


def test_count_reward_zero_ground_truth_and_json_solution():
    assert count_reward([wrap("0"), wrap("1"), wrap("0.25")], solution=["0", 0, 0]) == [1.0, 0.0, 0.75]


@pytest.mark.parametrize("shape", [str, chat])
def test_temporal_iou_of_unions(shape):
    gt = [[0, 10], [20, 30]]
    completions = [
        wrap("[[0, 10], [20, 30]]"),       # exact: 1
        wrap("[[5, 25]]"),                 # inter 5 + 5 = 10, union [0, 30] = 30
        wrap("[[0, 6], [4, 10]]"),         # overlapping preds merge to [0, 10]: 10 / 20
        wrap('[["0 seconds", "10 seconds"]]'),  # 10 / 20
        wrap("[[40, 50]]"),                # disjoint: 0
    ]
    got = temporal_iou_reward([shape(c) for c in completions], solution=[json.dumps(gt)] * 5)
    assert got == pytest.approx([1.0, 1 / 3, 0.5, 0.5, 0.0])


def test_temporal_interval_spam_does_not_pay():
    gt = [[10, 20]]
    spam = [[t, t + 1] for t in range(0, 100)]  # covers [0, 100]: union IoU 10 / 100
    exact_plus_spam = [[10, 20], *[[t, t + 0.5] for t in range(30, 100, 2)]]
    got = temporal_iou_reward([wrap(json.dumps(spam)), wrap(json.dumps(exact_plus_spam))], solution=[gt, gt])
    assert got[0] == pytest.approx(0.1)
    assert got[1] == pytest.approx(10 / (10 + 35 * 0.5))


@pytest.mark.parametrize("shape", [str, chat])
def test_spatial_iou_matching(shape):
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    completions = [
        wrap("[[0, 0, 10, 10], [20, 20, 30, 30]]"),  # 1
        wrap("[[5, 0, 15, 10]]"),                    # IoU 50 / 150, one of two GT: (1/3) / 2
        wrap("[[20, 20, 30, 30], [0, 0, 10, 10]]"),  # order does not matter: 1
        wrap('{"Frame1": [[0, 0, 10, 10]]}'),        # per-frame answer, frame 1: 1 / 2
        wrap('{"Frame2": [[0, 0, 10, 10]]}'),        # wrong frame: 0
    ]
    got = spatial_iou_reward([shape(c) for c in completions], solution=[json.dumps(gt)] * 5)
    assert got == pytest.approx([1.0, 1 / 6, 1.0, 0.5, 0.0])


def test_spatial_per_frame_solution():
    gt = {"Frame1": [[0, 0, 10, 10]], "Frame2": [[0, 0, 10, 10]]}
    completions = [wrap(json.dumps(gt)), wrap("[[0, 0, 10, 10]]"), wrap('{"Frame2": [[0, 0, 10, 10]]}')]
    assert spatial_iou_reward(completions, solution=[json.dumps(gt)] * 3) == [1.0, 0.5, 0.5]


def test_box_spam_costs_but_official_variant_pays():
    gt = [[0, 0, 10, 10]]
    spam = [[0, 0, 10, 10], *[[50 + k, 50, 60 + k, 60] for k in range(9)]]
    ours = spatial_iou_reward([wrap(json.dumps(spam))], solution=[gt])
    official = spatial_iou_reward_official([wrap(json.dumps(spam))], solution=[gt])
    assert ours == [pytest.approx(0.1)] and official == [1.0]


@pytest.mark.parametrize("reward", [qa_accuracy_reward, count_reward, temporal_iou_reward, spatial_iou_reward])
def test_unreadable_answers_score_zero_and_never_raise(reward):
    junk = ["", "<answer></answer>", wrap("[[NaN, NaN]]"), wrap("[[Infinity, 0, 1, 1]]"), wrap("{"), wrap("null"),
            wrap('{"a": []}'), None, 42, [{"role": "assistant"}], [{"role": "assistant", "content": None}],
            wrap("1e999")]
    solutions = {qa_accuracy_reward: "C", count_reward: 3, temporal_iou_reward: [[1, 2]],
                 spatial_iou_reward: [[0, 0, 1, 1]]}[reward]
    assert reward(junk, solution=[solutions] * len(junk)) == [0.0] * len(junk)


def test_bad_solution_scores_zero():
    assert temporal_iou_reward([wrap("[[1, 2]]")], solution=["not json"]) == [0.0]
    assert count_reward([wrap("2")], solution=[None]) == [0.0]


def test_task_column_routes_rows_to_their_reward():
    completions = [wrap("B"), wrap("3"), wrap("[[0, 1]]"), wrap("[[0, 0, 1, 1]]")]
    tasks = ["qa", "counting", "temporal_grounding", "spatial_grounding"]
    solutions = ["B", "3", "[[0, 1]]", "[[0, 0, 1, 1]]"]
    kwargs = {"solution": solutions, "task": tasks, "prompts": ["p"] * 4, "video": ["v"] * 4}
    assert qa_accuracy_reward(completions, **kwargs) == [1.0, None, None, None]
    assert count_reward(completions, **kwargs) == [None, 1.0, None, None]
    assert temporal_iou_reward(completions, **kwargs) == [None, None, 1.0, None]
    assert spatial_iou_reward(completions, **kwargs) == [None, None, None, 1.0]
    assert format_reward(completions, **kwargs) == [1.0, 1.0, 1.0, 1.0]


def test_without_task_column_every_row_is_scored():
    assert count_reward([wrap("B"), wrap("3")], solution=[3, 3]) == [0.0, 1.0]


def test_registry_by_name():
    assert set(REWARDS) == {"format_reward", "qa_accuracy_reward", "temporal_iou_reward", "spatial_iou_reward",
                            "spatial_iou_reward_official", "count_reward"}
    assert reward_by_name("count_reward") is count_reward
    with pytest.raises(KeyError, match="choose from"):
        reward_by_name("accuracy")
