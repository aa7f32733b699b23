"""`python -m training.inspect_rewards`: what the training rewards would give one benchmark prediction.

JSON in (stdin), JSON out (stdout), so the studio's reward inspector can ask without importing
`training` (no torch or trl here either: rewards and the converter are plain Python). The item is
turned into the training row the training converter makes of it (`training.data`), and each reward
that applies scores the prediction through the registry (`training.rewards.REWARDS`): one
implementation of both.

`python -m training.inspect_rewards [REQUEST.json]` (stdin without a file). A request, or
{"requests": [request, ...]} answered by {"results": [answer, ...]}:
In:  {"item": <benchmark item JSON>, "protocol": "long" | "ref" | "clue",
      "predictions": [{"label": "A", "pred": "<model text>"}, ...]}
Out: {"task": ..., "row": {"question", "solution"}, "note": ..., "predictions": [{"label", "parsed",
      "rewards": [{"name", "value", "reason"}]}]}
     or {"error": "..."} (exit code 2) for input it cannot use.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from engine.benchmark import item_from_json
from engine.parsing import parse_count
from training.data import counting_sample, spatial_sample, temporal_sample
from training.rewards import (
    _FORMAT_RE,
    REWARDS,
    Unreadable,
    _answer_json,
    answer_body,
    read_frame_boxes,
    read_intervals,
    solution_value,
)

#: Rewards per training task, as the shipped configs pair them (format first).
TASK_REWARDS = {"counting": ("format_reward", "count_reward"),
                "temporal_grounding": ("format_reward", "temporal_iou_reward"),
                "spatial_grounding": ("format_reward", "spatial_iou_reward", "spatial_iou_reward_official")}


def training_row(item, protocol: str):
    """The training sample this item and protocol correspond to, or (None, why none applies)."""
    if protocol in ("long", "ref"):
        return counting_sample(item, item.video), None
    if item.category == "event":
        return temporal_sample(item, item.video), None
    if item.category == "object":
        return spatial_sample(item, item.video), None
    return None, (f"no training reward applies to {item.category} clue answers "
                  "(the recipe grounds events in time and objects in frames only)")


def parsed_answer(task: str, text: str) -> Any:
    """The answer as the task's reward reads it (None when unreadable)."""
    try:
        if task == "counting":
            value = parse_count(answer_body(text), "strict").value
            return value if value is not None and math.isfinite(value) else None
        if task == "temporal_grounding":
            return [list(i) for i in read_intervals(_answer_json(text))]
        boxes = read_frame_boxes(_answer_json(text))
        return {f"Frame{k}": [list(b) for b in v] for k, v in boxes.items()}
    except (Unreadable, ValueError, TypeError):
        return None


def zero_reason(name: str, task: str, text: str, parsed: Any) -> str:
    """Why a reward gave 0 (empty when it did not)."""
    if name == "format_reward":
        if not _FORMAT_RE.fullmatch(text):
            return "not <think>…</think> then <answer>…</answer>"
        return f"the answer is not in the {task} shape"
    if parsed is None:
        if "<answer>" not in text:
            return "no <answer> tag: the reward reads only inside <answer>"
        return "the answer inside <answer> cannot be read as " + {
            "counting": "a count", "temporal_grounding": "[[start, end], …]",
            "spatial_grounding": "boxes"}[task]
    if task == "counting":
        return "the count is off by the ground truth or more"
    return "no overlap with the ground truth"


def inspect(request: dict) -> dict:
    item = item_from_json(request["item"])
    protocol = str(request.get("protocol", "long"))
    row, note = training_row(item, protocol)
    predictions = request.get("predictions", [])
    if row is None:
        return {"protocol": protocol, "task": None, "row": None, "note": note,
                "predictions": [{"label": p.get("label"), "parsed": None, "rewards": []} for p in predictions]}
    out = []
    for prediction in predictions:
        text = str(prediction.get("pred") or "")
        parsed = parsed_answer(row.task, text)
        rewards = []
        for name in TASK_REWARDS[row.task]:
            value = REWARDS[name]([text], solution=[row.solution], task=[row.task])[0]
            reason = zero_reason(name, row.task, text, parsed) if value == 0 else ""
            rewards.append({"name": name, "value": value, "reason": reason})
        out.append({"label": prediction.get("label"), "parsed": parsed, "rewards": rewards})
    return {"protocol": protocol, "task": row.task, "row": {"question": row.question, "solution": solution_value(row.solution)},
            "note": note, "predictions": out}


def answer(data: Any) -> dict:
    if isinstance(data, dict) and isinstance(data.get("requests"), list):
        return {"results": [answer(request) for request in data["requests"]]}
    if not isinstance(data, dict) or "item" not in data:
        raise ValueError("expected a JSON object with an `item` (or `requests`)")
    return inspect(data)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        text = open(argv[0], encoding="utf-8").read() if argv else sys.stdin.read()
        print(json.dumps(answer(json.loads(text))))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
