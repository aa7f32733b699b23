"""Benchmark data model: items, clues and the loader that validates them.

Every value keeps the raw dict it came from (`raw`) so unknown fields survive a
load/save round trip, and so scoring can see exactly what the benchmark's own
scripts would have seen.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.errors import UserError
from engine.results import Box

Category = Literal["event", "object", "attribute"]
CATEGORIES: tuple[str, ...] = ("event", "object", "attribute")
#: An answer beyond this is not a count: its squared error would overflow the metrics.
MAX_ANSWER = 10**12


class DatasetError(UserError, ValueError):
    """A benchmark file that cannot be used; the message names the item and field."""


@dataclass(frozen=True, slots=True)
class EventClue:
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class BoxClue:
    timestamp: float
    bbox: Box


@dataclass(frozen=True, slots=True)
class Item:
    """One benchmark question. `clue` shape depends on `category`:
    event -> list[EventClue]; object -> list[BoxClue]; attribute -> list[list[BoxClue]]."""

    index: int
    video: str
    question: str
    answer: int
    category: Category
    clue: tuple
    query_interval: tuple[float, float] | None
    raw: dict = field(repr=False, compare=False, hash=False)

    @property
    def modality(self) -> str | None:
        """Modality/type label if the item carries one (several spellings exist in the wild)."""
        for key in ("modality", "type", "query_type", "task_type"):
            value = self.raw.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def clue_times(self) -> list[float]:
        """Times (s) of every clue instance, sorted: event starts or box timestamps."""
        if self.category == "event":
            return sorted(c.start for c in self.clue)
        boxes = self.clue if self.category == "object" else [b for cl in self.clue for b in cl]
        return sorted({b.timestamp for b in boxes})

    def to_json(self) -> dict:
        return dict(self.raw)


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DatasetError(f"{where}: expected a number, got {_short_repr(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise DatasetError(f"{where}: not a finite number ({_short_repr(value)})")
    return number


def _short_repr(value: Any, limit: int = 60) -> str:
    """repr for a message: an item field may be megabytes long (or a 4,000-digit integer)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        return f"an integer of more than {limit} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box(value: Any, where: str) -> Box:
    if not isinstance(value, list) or len(value) != 4:
        raise DatasetError(f"{where}: expected a box [x1, y1, x2, y2], got {_short_repr(value)}")
    x1, y1, x2, y2 = value
    if type(x1) is float and type(y1) is float and type(x2) is float and type(y2) is float and math.isfinite(
            x1 + y1 + x2 + y2):  # fast path, the common case (a sum of finite floats may overflow: slow path)
        return Box(x1, y1, x2, y2)
    return Box(*(_num(v, f"{where}[{i}]") for i, v in enumerate(value)))


def _is_finite_float(value: Any) -> bool:
    return type(value) is float and math.isfinite(value)


def _fast_box_clue(value: Any) -> BoxClue | None:
    """The common, valid case without building any message text (None: take the checked path)."""
    if type(value) is dict:
        stamp, box = value.get("timestamp"), value.get("bbox")
        if _is_finite_float(stamp) and type(box) is list and len(box) == 4:
            x1, y1, x2, y2 = box
            if type(x1) is float and type(y1) is float and type(x2) is float and type(y2) is float and math.isfinite(
                    x1 + y1 + x2 + y2):
                return BoxClue(stamp, Box(x1, y1, x2, y2))
    return None


def _fast_event_clue(value: Any) -> EventClue | None:
    if type(value) is dict:
        start, end = value.get("start"), value.get("end")
        if _is_finite_float(start) and _is_finite_float(end) and start <= end:
            return EventClue(start, end)
    return None


def _box_clue(value: Any, where: str) -> BoxClue:
    if not isinstance(value, dict):
        raise DatasetError(f"{where}: expected {{'timestamp', 'bbox'}}, got {type(value).__name__}")
    for key in ("timestamp", "bbox"):
        if key not in value:
            raise DatasetError(f"{where}: missing field '{key}'")
    return BoxClue(_num(value["timestamp"], f"{where}.timestamp"), _box(value["bbox"], f"{where}.bbox"))


def _event_clue(value: Any, where: str) -> EventClue:
    if not isinstance(value, dict) or "start" not in value or "end" not in value:
        raise DatasetError(f"{where}: expected {{'start', 'end'}}, got {_short_repr(value)}")
    start, end = _num(value["start"], f"{where}.start"), _num(value["end"], f"{where}.end")
    if end < start:
        raise DatasetError(f"{where}: end {end} is before start {start}")
    return EventClue(start, end)


def _clues(category: str, value: Any, where: str) -> tuple:
    if not isinstance(value, list):
        raise DatasetError(f"{where}: expected a list, got {type(value).__name__}")
    if category == "event":
        return tuple(_fast_event_clue(v) or _event_clue(v, f"{where}[{i}]") for i, v in enumerate(value))
    if category == "object":
        return tuple(_fast_box_clue(v) or _box_clue(v, f"{where}[{i}]") for i, v in enumerate(value))
    clusters = []
    for k, cluster in enumerate(value):
        if not isinstance(cluster, list):
            raise DatasetError(f"{where}[{k}]: an attribute cluster must be a list of boxes")
        clusters.append(tuple(_fast_box_clue(v) or _box_clue(v, f"{where}[{k}][{i}]") for i, v in enumerate(cluster)))
    return tuple(clusters)


def item_from_json(raw: Any, position: int = 0) -> Item:
    """Validate one benchmark record; raise DatasetError naming the item and the field."""
    if not isinstance(raw, dict):
        raise DatasetError(f"item #{position}: expected an object, got {type(raw).__name__}")
    label = f"item #{position} (index {raw.get('index', '?')})"
    for key in ("index", "category", "answer", "clue"):
        if key not in raw:
            raise DatasetError(f"{label}: missing field '{key}'")
    index = raw["index"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise DatasetError(f"{label}: 'index' must be an integer, got {_short_repr(index)}")
    category = raw["category"]
    if category not in CATEGORIES:
        raise DatasetError(f"{label}: 'category' must be one of {', '.join(CATEGORIES)}, got {_short_repr(category)}")
    answer = raw["answer"]
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise DatasetError(f"{label}: 'answer' must be an integer, got {_short_repr(answer)}")
    if abs(answer) > MAX_ANSWER:
        raise DatasetError(f"{label}: 'answer' {_short_repr(answer)} is not a count (more than {MAX_ANSWER:,})")
    interval = raw.get("query_interval")
    query = None
    if interval is not None:
        if not isinstance(interval, list) or len(interval) != 2:
            raise DatasetError(f"{label}: 'query_interval' must be [start, end], got {_short_repr(interval)}")
        query = (_num(interval[0], f"{label}.query_interval[0]"), _num(interval[1], f"{label}.query_interval[1]"))
        if query[1] < query[0]:
            raise DatasetError(f"{label}: query_interval end {query[1]} is before start {query[0]}")
    return Item(
        index=index,
        video=str(raw.get("video", "")),
        question=str(raw.get("question_en", raw.get("question", ""))),
        answer=answer,
        category=category,
        clue=_clues(category, raw["clue"], f"{label}.clue"),
        query_interval=query,
        raw=raw,
    )


def items_from_json(data: Any) -> list[Item]:
    if not isinstance(data, list):
        raise DatasetError(f"a benchmark file must hold a JSON list of items, got {type(data).__name__}")
    items = [item_from_json(raw, i) for i, raw in enumerate(data)]
    seen: dict[int, int] = {}
    for pos, item in enumerate(items):
        if item.index in seen:
            raise DatasetError(f"item #{pos}: index {item.index} repeats item #{seen[item.index]}")
        seen[item.index] = pos
    return items


def load_dataset(path: str | Path) -> list[Item]:
    """Load and validate a benchmark JSON list; DatasetError says what is wrong and where."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    if not text.strip():
        raise DatasetError(f"{path}: the file is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise DatasetError(f"{path}: not usable JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise DatasetError(f"{path}: not usable JSON ({exc})") from None
    try:
        return items_from_json(data)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None


def save_dataset(items: Iterable[Item], path: str | Path) -> None:
    from engine.io import write_json_atomic

    write_json_atomic(path, [item.to_json() for item in items])
