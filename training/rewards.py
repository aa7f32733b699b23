"""Verifiable rewards for GRPO: plain callables with trl's reward signature, and a registry by name.

No torch or trl import here, so any process (the trainer, the offline filter, a notebook) can score
completions. Answers are read with the engine's parsing and scored with the engine's IoU and
matching: one implementation of each.

Every reward takes `completions` (plain strings, or trl's conversational
`[{"role": "assistant", "content": ...}]`) and `solution` (the native value or its JSON string, as
the dataset stores it), ignores other columns, never raises, and returns one float in [0, 1] per
completion (0 for anything unreadable). With a `task` column a task reward returns `None` for rows
of other tasks (trl then leaves those rows to the other rewards), and `format_reward` checks each
row's own task format; without one, every reward scores every row.

Solutions, per task:
    qa                 the correct option: a letter ("B") or the option's text
    counting           the count (an int)
    temporal_grounding [[start, end], ...] in seconds
    spatial_grounding  [[x1, y1, x2, y2], ...] or {"Frame1": [[x1, y1, x2, y2], ...], ...}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from engine.parsing import find_json, parse_count, parse_event_value, parse_object_value
from engine.results import Box, Interval
from engine.scoring.geometry import box_iou
from engine.scoring.whitebox import greedy_match

TASKS: tuple[str, ...] = ("qa", "temporal_grounding", "spatial_grounding", "counting")
Reward = Callable[..., list[float | None]]

_FORMAT_RE = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)
_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_OPTION_RE = re.compile(r"^\(?([A-Za-z])\)?(?:[.):\s]|$)")


class Unreadable(ValueError):
    """A completion or solution that cannot be read in the task's shape (scores 0)."""


# ---------------------------------------------------------------- reading inputs
def completion_text(completion: Any) -> str:
    """The assistant text of one completion, plain or conversational.

    >>> completion_text([{"role": "assistant", "content": "<answer>3</answer>"}])
    '<answer>3</answer>'
    >>> completion_text("<answer>3</answer>")
    '<answer>3</answer>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion:
        content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else ""
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return content if isinstance(content, str) else ""
    return ""


def solution_value(solution: Any) -> Any:
    """The native solution: a JSON string is decoded, anything else is kept.

    >>> solution_value('[[1, 2]]'), solution_value(4), solution_value('B')
    ([[1, 2]], 4, 'B')
    """
    if isinstance(solution, str):
        try:
            return json.loads(solution)
        except ValueError:
            return solution
    return solution


def answer_body(text: str) -> str:
    """The first <answer> body, stripped; Unreadable without one (tags are part of the contract)."""
    match = _ANSWER_RE.search(text)
    if match is None:
        raise Unreadable("no <answer>...</answer>")
    return match.group(1).strip()


def read_intervals(value: Any) -> list[Interval]:
    """[[start, end], ...] (numbers, "12.5 seconds" or "m:s") through the engine's event parser.

    >>> read_intervals([[3, 1], ["2.5 seconds", "4 seconds"]])
    [(1.0, 3.0), (2.5, 4.0)]
    """
    try:
        intervals = parse_event_value(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Unreadable(str(exc)) from None
    out = []
    for start, end in intervals:
        start, end = float(start), float(end)
        if not (math.isfinite(start) and math.isfinite(end)):
            raise Unreadable("a time is not finite")
        out.append((min(start, end), max(start, end)))
    return out


def read_frame_boxes(value: Any) -> dict[int, list[Box]]:
    """Boxes per frame: a plain list of boxes is frame 0 ("Frame1"), a {"FrameN": [...]} object is
    read by the engine's object parser.

    >>> read_frame_boxes([[0, 0, 2, 2]])
    {0: [(0.0, 0.0, 2.0, 2.0)]}
    >>> read_frame_boxes({"Frame2": [[0, 0, 2, 2]]})
    {1: [(0.0, 0.0, 2.0, 2.0)]}
    """
    try:
        parsed = parse_object_value({"Frame1": value} if isinstance(value, list) else value)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise Unreadable(str(exc)) from None
    out: dict[int, list[Box]] = {}
    for frame, boxes in parsed.items():
        for box in boxes:
            if len(box) != 4 or not all(math.isfinite(float(v)) for v in box):
                raise Unreadable("a box is not four finite numbers")
        out[frame] = [tuple(float(v) for v in box) for box in boxes]  # type: ignore[misc]
    return out


def _answer_json(text: str) -> Any:
    value, found = find_json(answer_body(text))
    if not found:
        raise Unreadable("no JSON in the answer")
    return value


# ---------------------------------------------------------------- measures
def merge_intervals(intervals: Sequence[Interval]) -> list[Interval]:
    """Overlapping or touching intervals merged, sorted by start.

    >>> merge_intervals([(5, 6), (0, 2), (1, 3)])
    [(0, 3), (5, 6)]
    """
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def union_tiou(gt: Sequence[Interval], pred: Sequence[Interval]) -> float:
    """tIoU of the union of predicted intervals against the union of GT intervals (the official
    code's merge), so predicting many intervals pays only for the time they cover.

    >>> union_tiou([(0, 4)], [(1, 2), (1.5, 3)])  # inter 2, union 4
    0.5
    >>> union_tiou([], [])
    1.0
    """
    if not gt and not pred:
        return 1.0
    gt_m, pred_m = merge_intervals(gt), merge_intervals(pred)
    inter = sum(max(0.0, min(ge, pe) - max(gs, ps)) for gs, ge in gt_m for ps, pe in pred_m)
    union = sum(e - s for s, e in merge_intervals([*gt_m, *pred_m]))
    return inter / union if union > 0 else 0.0


def matched_box_iou(gt: dict[int, list[Box]], pred: dict[int, list[Box]]) -> float:
    """Sum of IoU over a one-to-one greedy matching within each frame, divided by max(|GT|, |pred|):
    every unmatched box, GT or predicted, costs.

    >>> matched_box_iou({0: [(0, 0, 2, 2)]}, {0: [(0, 0, 2, 2), (0, 0, 1, 1)]})  # 1 / max(1, 2)
    0.5
    """
    n_gt = sum(len(b) for b in gt.values())
    n_pred = sum(len(b) for b in pred.values())
    if n_gt == 0 and n_pred == 0:
        return 1.0
    total = 0.0
    for frame in set(gt) & set(pred):
        ious = [[box_iou(g, p) for p in pred[frame]] for g in gt[frame]]
        total += sum(ious[g][p] for g, p in greedy_match(ious, len(pred[frame])))
    return total / max(n_gt, n_pred)


def best_box_iou_per_gt(gt: dict[int, list[Box]], pred: dict[int, list[Box]]) -> float:
    """The official code's measure: each GT box's best IoU over all predictions, averaged over GT
    boxes. Extra boxes cost nothing, so box spam games it (kept for reproduction only).

    >>> best_box_iou_per_gt({0: [(0, 0, 2, 2)]}, {0: [(0, 0, 2, 2), (5, 5, 6, 6)]})
    1.0
    """
    gt_boxes = [b for boxes in gt.values() for b in boxes]
    pred_boxes = [b for boxes in pred.values() for b in boxes]
    if not gt_boxes:
        return 1.0 if not pred_boxes else 0.0
    return sum(max((box_iou(g, p) for p in pred_boxes), default=0.0) for g in gt_boxes) / len(gt_boxes)


def count_score(pred: float, gt: float) -> float:
    """1 - min(1, |pred - gt| / gt); 1 - min(1, |pred|) when gt = 0.

    >>> count_score(3, 4), count_score(0, 0), count_score(9, 4)
    (0.75, 1.0, 0.0)
    """
    if gt == 0:
        return 1.0 - min(1.0, abs(pred))
    return 1.0 - min(1.0, abs(pred - gt) / abs(gt))


# ---------------------------------------------------------------- per-row scores
def score_format(text: str, task: str | None = None) -> float:
    """1 for <think>...</think> then <answer>...</answer> (and, for grounding, an answer in the task's
    shape), else 0.

    >>> score_format("<think>a</think> <answer>[[1, 2]]</answer>", "temporal_grounding")
    1.0
    >>> score_format("<think>a</think><answer>two</answer>", "temporal_grounding")
    0.0
    >>> score_format("<answer>2</answer>")
    0.0
    """
    if not _FORMAT_RE.fullmatch(text):
        return 0.0
    try:
        if task == "temporal_grounding":
            read_intervals(_answer_json(text))
        elif task == "spatial_grounding":
            read_frame_boxes(_answer_json(text))
    except Unreadable:
        return 0.0
    return 1.0


def score_qa(text: str, solution: Any) -> float:
    """1 when the chosen option is the solution (a letter, or the option's text), else 0.

    >>> score_qa("<answer>(B) a violin</answer>", "B"), score_qa("<answer>A.</answer>", "B")
    (1.0, 0.0)
    >>> score_qa("<answer>A violin </answer>", "a violin")
    1.0
    """
    chosen = answer_body(text)
    expected = str(solution_value(solution)).strip()
    if len(expected) == 1 and expected.isalpha():
        match = _OPTION_RE.match(chosen)
        return 1.0 if match and match.group(1).upper() == expected.upper() else 0.0
    return 1.0 if _normalise(chosen) == _normalise(expected) else 0.0


def _normalise(text: str) -> str:
    return " ".join(text.casefold().strip(" .!?\"'").split())


def score_count(text: str, solution: Any) -> float:
    """The count read inside <answer> as the strict mode reads it, scored by `count_score`.

    >>> score_count("<think>...</think><answer>three</answer>", 4)
    0.75
    """
    parsed = parse_count(answer_body(text), "strict")
    if parsed.value is None or not math.isfinite(parsed.value):
        raise Unreadable(parsed.reason or "no count")
    gt = solution_value(solution)
    if isinstance(gt, dict):
        gt = gt.get("answer")
    return count_score(float(parsed.value), float(gt))


def score_temporal(text: str, solution: Any) -> float:
    return union_tiou(read_intervals(solution_value(solution)), read_intervals(_answer_json(text)))


def score_spatial(text: str, solution: Any) -> float:
    return matched_box_iou(read_frame_boxes(solution_value(solution)), read_frame_boxes(_answer_json(text)))


def score_spatial_official(text: str, solution: Any) -> float:
    return best_box_iou_per_gt(read_frame_boxes(solution_value(solution)), read_frame_boxes(_answer_json(text)))


def _safe(score: Callable[[], float]) -> float:
    """Run one row's scorer: anything unreadable, any odd value, is 0; results clamp to [0, 1]."""
    try:
        value = float(score())
    except Exception:  # a reward must never stop training on model text
        return 0.0
    return min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0


# ---------------------------------------------------------------- trl reward callables
def _task_reward(task: str, scorer: Callable[[str, Any], float], name: str) -> Reward:
    def reward(completions: list, solution: list | None = None, **kwargs: Any) -> list[float | None]:
        tasks = kwargs.get("task")
        solutions = solution if solution is not None else [None] * len(completions)
        out: list[float | None] = []
        for i, (completion, sol) in enumerate(zip(completions, solutions, strict=False)):
            if tasks is not None and tasks[i] != task:
                out.append(None)
            else:
                text = completion_text(completion)
                out.append(_safe(lambda text=text, sol=sol: scorer(text, sol)))
        return out

    reward.__name__ = reward.__qualname__ = name
    reward.__doc__ = f"trl reward for {task} rows: {scorer.__doc__ or scorer.__name__}"
    reward.task = task  # type: ignore[attr-defined]
    return reward


def format_reward(completions: list, **kwargs: Any) -> list[float | None]:
    """trl reward: 1 for the think/answer format (the task's answer shape where a `task` column says).

    >>> format_reward(["<think>x</think><answer>1</answer>", "1"])
    [1.0, 0.0]
    >>> format_reward(["<think>x</think><answer>1</answer>"], task=["spatial_grounding"])
    [0.0]
    """
    tasks = kwargs.get("task")
    return [
        _safe(lambda c=c, i=i: score_format(completion_text(c), tasks[i] if tasks is not None else None))
        for i, c in enumerate(completions)
    ]


qa_accuracy_reward = _task_reward("qa", score_qa, "qa_accuracy_reward")
count_reward = _task_reward("counting", score_count, "count_reward")
temporal_iou_reward = _task_reward("temporal_grounding", score_temporal, "temporal_iou_reward")
spatial_iou_reward = _task_reward("spatial_grounding", score_spatial, "spatial_iou_reward")
spatial_iou_reward_official = _task_reward("spatial_grounding", score_spatial_official,
                                           "spatial_iou_reward_official")

REWARDS: dict[str, Reward] = {
    r.__name__: r
    for r in (format_reward, qa_accuracy_reward, temporal_iou_reward, spatial_iou_reward,
              spatial_iou_reward_official, count_reward)
}


def reward_by_name(name: str) -> Reward:
    """A registered reward; KeyError lists the known names."""
    try:
        return REWARDS[name]
    except KeyError:
        raise KeyError(f"unknown reward {name!r}; choose from {', '.join(sorted(REWARDS))}") from None


def task_of(reward: Reward) -> str | None:
    """The task a reward scores (None for format_reward, which scores every row)."""
    return getattr(reward, "task", None)
