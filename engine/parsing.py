"""Reading model answers: counts (black-box) and clue geometry (white-box).

Mode `official` follows the benchmark's public scripts exactly (METRICS.md), odd
corners included; `strict` additionally reads `<answer>` tags and digits in prose
for counts. Nothing here raises on model text: failures come back as reasons.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from word2number import w2n

from engine.results import Box, CountParse, Interval, Mode, ParsedClue

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_FIRST_NUMBER_RE = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)")


class ClueFormatError(ValueError):
    """The answer does not have the shape its category requires."""


# ---------------------------------------------------------------- text pieces
def extract_answer_text(text: str) -> str:
    """The first <answer>...</answer> body (stripped), else the whole text stripped."""
    match = _ANSWER_RE.search(text)
    return (match.group(1) if match else text).strip()


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(thinking, answer) for display: reasoning is shown apart from what is scored."""
    think = _THINK_RE.search(text)
    thinking = think.group(1).strip() if think else None
    return thinking, extract_answer_text(_THINK_RE.sub("", text) if think else text)


def _outermost_blocks(text: str):
    """Yield every outermost balanced {...} / [...] span, left to right (stack matching)."""
    stack: list[str] = []
    start = 0
    pairs = {"}": "{", "]": "["}
    for i, ch in enumerate(text):
        if ch in "{[":
            if not stack:
                start = i
            stack.append(ch)
        elif ch in "}]" and stack:
            if stack[-1] != pairs[ch]:
                stack.clear()
                continue
            stack.pop()
            if not stack:
                yield text[start : i + 1]


def find_json(text: str) -> tuple[Any, bool]:
    """Parse text as JSON, else the first outermost bracket block that parses. (value, found)."""
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        pass
    for block in _outermost_blocks(text):
        try:
            return json.loads(block), True
        except (ValueError, RecursionError):
            continue
    return None, False


# ---------------------------------------------------------------- counts
def parse_count(text: str, mode: Mode = "official") -> CountParse:
    """Count from model text. official: word2number's word_to_num on the raw text."""
    if not isinstance(text, str):
        return CountParse(None, f"prediction is {type(text).__name__}, not text")
    value, reason = _word_to_num(text)
    if value is not None or mode == "official":
        return CountParse(value, reason, text)
    answer = extract_answer_text(text)
    value, _ = _word_to_num(answer)
    if value is None:
        match = _FIRST_NUMBER_RE.search(answer)
        if match:
            value = float(match.group(0))
            value = int(value) if value.is_integer() else value
    if value is None:
        return CountParse(None, reason, answer)
    return CountParse(value, None, answer)


def _word_to_num(text: str) -> tuple[float | None, str | None]:
    try:
        value = w2n.word_to_num(text)
    except Exception as exc:  # word2number raises ValueError, IndexError, TypeError on odd input
        return None, f"no number found ({_short(str(exc) or type(exc).__name__)})"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "number is not finite"
    return value, None


# ---------------------------------------------------------------- clues
def parse_clue(category: str, text: str, mode: Mode = "official") -> ParsedClue:
    """Geometry of a clue answer, or a ParsedClue with `failure` set (never raises)."""
    if not isinstance(text, str):
        return ParsedClue(category, failure=f"prediction is {type(text).__name__}, not text")
    answer = extract_answer_text(text)
    value, found = find_json(answer)
    if not found:
        return ParsedClue(category, failure="no JSON found in the answer", answer_text=answer)
    try:
        if category == "event":
            return ParsedClue(category, intervals=parse_event_value(value), answer_text=answer)
        if category == "object":
            return ParsedClue(category, frames=parse_object_value(value), answer_text=answer)
        if category == "attribute":
            return ParsedClue(category, clusters=parse_attribute_value(value), answer_text=answer)
    except (ClueFormatError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return ParsedClue(category, failure=_short(str(exc) or type(exc).__name__), answer_text=answer)
    return ParsedClue(category, failure=f"unknown category {category!r}", answer_text=answer)


def parse_event_value(value: Any) -> tuple[Interval, ...]:
    if not isinstance(value, list):
        raise ClueFormatError(f"event answer must be a list of [start, end] pairs, got {_kind(value)}")
    intervals = []
    for n, pair in enumerate(value, start=1):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ClueFormatError(f"event pair {n} is not two times: {_short(json.dumps(pair))}")
        intervals.append(_event_pair(pair, n))
    return tuple(intervals)


def _event_pair(pair: list, n: int) -> Interval:
    a, b = pair
    if isinstance(a, str) and isinstance(b, str) and ":" in a and ":" in b:
        return _clock_seconds(a, n), _clock_seconds(b, n)
    return _event_side(a, n), _event_side(b, n)


def _clock_seconds(text: str, n: int) -> float:
    """'[h:]m:s[.frac]' -> seconds."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise ClueFormatError(f"event pair {n}: {text!r} is not [h:]m:s")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ClueFormatError(f"event pair {n}: {text!r} is not [h:]m:s") from None
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def _event_side(side: Any, n: int) -> float:
    if isinstance(side, str):
        head = side.split(" ")[0]
        try:
            return float(head)
        except ValueError:
            raise ClueFormatError(f"event pair {n}: {side!r} is not a time") from None
    if isinstance(side, (int, float)) and not isinstance(side, bool):
        return side
    raise ClueFormatError(f"event pair {n}: {_short(json.dumps(side))} is not a time")


def _frame_index(key: str) -> int:
    try:
        return int(key.replace("Frame", "")) - 1
    except ValueError:
        raise ClueFormatError(f"frame key {key!r} has no frame number") from None


def parse_object_value(value: Any) -> dict[int, list[Box]]:
    if not isinstance(value, dict):
        raise ClueFormatError(f"object answer must be a JSON object of frames, got {_kind(value)}")
    frames: dict[int, list[Box]] = {}
    for key, boxes in value.items():
        if "Frame" not in key:
            continue
        frames.setdefault(_frame_index(key), []).extend(_frame_boxes(boxes, key))
    return frames


def _frame_boxes(value: Any, key: str) -> list[Box]:
    """A frame's boxes: every 4-list, or corner pairs read two elements at a time
    (elements 0+1, 2+3, ...; a step where either is not a 2-list gives nothing)."""
    if not isinstance(value, list):
        raise ClueFormatError(f"{key}: expected a list of boxes, got {_kind(value)}")
    if not value:
        return []
    first = value[0]
    if isinstance(first, list) and len(first) == 4:
        return [_box(v, key) for v in value if isinstance(v, list) and len(v) == 4]
    if isinstance(first, list) and len(first) == 2:
        return [_box(a + b, key) for a, b in zip(value[::2], value[1::2], strict=False) if _is_point(a) and _is_point(b)]
    raise ClueFormatError(f"{key}: boxes must be [x1, y1, x2, y2] or corner pairs")


def _is_point(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _box(values: list, key: str) -> Box:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ClueFormatError(f"{key}: box coordinate {_short(json.dumps(v))} is not a number")
    return tuple(values)  # type: ignore[return-value]


def parse_attribute_value(value: Any) -> dict[str, dict[int, list[Box]]]:
    if not isinstance(value, dict):
        raise ClueFormatError(f"attribute answer must be a JSON object of frames, got {_kind(value)}")
    clusters: dict[str, dict[int, list[Box]]] = {}
    for key, objects in value.items():
        if "Frame" not in key:
            continue
        frame = _frame_index(key)
        if not isinstance(objects, list):
            raise ClueFormatError(f"{key}: expected a list of labelled boxes, got {_kind(objects)}")
        for obj in objects:
            label, boxes = _labelled_boxes(obj, key)
            clusters.setdefault(label, {}).setdefault(frame, []).extend(boxes)
    return clusters


def _labelled_boxes(obj: Any, key: str) -> tuple[str, list[Box]]:
    if not isinstance(obj, dict) or "label" not in obj:
        raise ClueFormatError(f"{key}: each object needs a 'label' and a 'bbox'")
    boxes = [_box(obj[f], key) for f in ("bbox", "bbox_2d") if f in obj]
    for box in boxes:
        if len(box) != 4:
            raise ClueFormatError(f"{key}: a box must have 4 numbers")
    return str(obj["label"]), boxes


# ---------------------------------------------------------------- writing back
def answer_json_from_parsed(parsed: ParsedClue, like: str | None = None, pretty: bool = False) -> str:
    """Serialise (possibly edited) geometry as an answer the parser reads back identically.

    `like` is the model's own answer: its frame-key spelling ("Frame 1" or "Frame1") and, for object
    items, its box shape (flat [x1, y1, x2, y2] or a list of corner points, two per box) are kept, so
    an edit reads like the answer it changes. `pretty` puts one interval or box per line.
    """
    spaced = like is not None and re.search(r'"Frame \d', like) is not None
    points = like is not None and parsed.category == "object" and _CORNER_POINTS_RE.search(like) is not None

    def key(f: int) -> str:
        return f"Frame {f + 1}" if spaced else f"Frame{f + 1}"

    if parsed.category == "event":
        payload: Any = [list(iv) for iv in parsed.intervals]
        entries: dict[str, list[str]] = {"": [json.dumps(v) for v in payload]}
    elif parsed.category == "object":
        payload = {key(f): ([p for b in boxes for p in ([b[0], b[1]], [b[2], b[3]])] if points
                            else [list(b) for b in boxes]) for f, boxes in parsed.frames.items()}
        entries = {key(f): [", ".join(json.dumps(p) for p in ([b[0], b[1]], [b[2], b[3]])) if points
                            else json.dumps(list(b)) for b in boxes] for f, boxes in parsed.frames.items()}
    else:
        payload = {}
        for label, frames in parsed.clusters.items():
            for f, boxes in frames.items():
                payload.setdefault(key(f), []).extend({"bbox": list(b), "label": label} for b in boxes)
        entries = {k: [json.dumps(v) for v in values] for k, values in payload.items()}
    return f"<answer>{_pretty(entries, parsed.category == 'event') if pretty else json.dumps(payload)}</answer>"


#: A frame written as corner points: `"Frame 1": [[x, y], [x, y]...`
_CORNER_POINTS_RE = re.compile(r'"\s*:\s*\[\s*\[\s*-?[\d.]+\s*,\s*-?[\d.]+\s*\]')


def _pretty(entries: dict[str, list[str]], is_list: bool) -> str:
    """One entry (interval or box, already JSON) per line."""
    def block(lines: list[str], indent: str) -> str:
        return "[\n" + ",\n".join(indent + "  " + line for line in lines) + "\n" + indent + "]" if lines else "[]"

    if is_list:
        return block(entries[""], "")
    body = ",\n".join(f"  {json.dumps(k)}: {block(v, '  ')}" for k, v in entries.items())
    return "{\n" + body + "\n}" if body else "{}"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text"}.get(type(value), type(value).__name__)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
