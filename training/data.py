"""Training samples: one JSONL schema for every task, converters from `avr synth` benchmarks, and
readers for public dataset layouts.

One line per sample:
    {"id": "synth-3-temporal", "task": "temporal_grounding", "source": "synth",
     "video": "videos/vid000.mp4", "start": 0.0, "end": 12.0, "frame_times": null, "num_frames": null,
     "audio": true, "question": "When does ...? Answer with [[start, end], ...] in seconds.",
     "solution": "[[3.8, 4.4], [5.6, 6.2]]"}

`task` is one of qa, temporal_grounding, spatial_grounding, counting. `solution` is always a JSON
string (so a mixed-task file keeps one column type; the rewards decode it). The model sees the clip
[start, end] of `video` (end null: the whole video) as one video of `num_frames` frames sampled over
the clip (null: the config's default), or exactly the frames at `frame_times`; times are always in
the video's own clock and the prompt states each frame's time. `video` may be relative to the
JSONL file's folder.
"""

from __future__ import annotations

import ast
import json
import math
import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from engine.benchmark import Item, load_dataset
from engine.errors import UserError
from engine.io import write_text_atomic
from training.rewards import TASKS

OPTION_LETTERS = "ABCD"
COUNT_INSTRUCTION = "Answer with a single number."
TEMPORAL_INSTRUCTION = "Answer with a JSON list [[start, end], ...] of every occurrence, in seconds."
SPATIAL_INSTRUCTION = ('Answer with a JSON object {"Frame1": [[x1, y1, x2, y2], ...], ...} of every box, '
                       "in pixels of the original frame.")
CHOICE_INSTRUCTION = "Answer with the option's letter."


class SampleError(UserError):
    """A training-sample file or dataset annotation that cannot be used; names the line and field."""


@dataclass(frozen=True)
class TrainSample:
    id: str
    task: str
    source: str
    video: str
    question: str
    solution: str
    start: float = 0.0
    end: float | None = None
    frame_times: tuple[float, ...] | None = None
    num_frames: int | None = None
    audio: bool = True

    def to_json(self) -> dict:
        data = asdict(self)
        data["frame_times"] = list(self.frame_times) if self.frame_times is not None else None
        return data

    @property
    def solution_value(self) -> Any:
        return json.loads(self.solution)


# ---------------------------------------------------------------- reading and writing JSONL
def sample_from_json(raw: Any, where: str = "sample") -> TrainSample:
    """Validate one record; SampleError names the field and the allowed values."""
    if not isinstance(raw, dict):
        raise SampleError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    for key in ("id", "task", "video", "question", "solution"):
        if key not in raw:
            raise SampleError(f"{where}: missing field '{key}'")
    if raw["task"] not in TASKS:
        raise SampleError(f"{where}.task: must be one of {', '.join(TASKS)}, got {raw['task']!r}")
    solution = raw["solution"]
    if not isinstance(solution, str):
        raise SampleError(f"{where}.solution: must be a JSON string, got {type(solution).__name__}")
    try:
        json.loads(solution)
    except ValueError:
        raise SampleError(f"{where}.solution: not valid JSON: {solution[:60]!r}") from None
    start = _number(raw.get("start", 0.0), f"{where}.start")
    end = None if raw.get("end") is None else _number(raw["end"], f"{where}.end")
    if end is not None and end <= start:
        raise SampleError(f"{where}.end: {end} must be after start {start}")
    times = raw.get("frame_times")
    if times is not None:
        if not isinstance(times, list) or not times:
            raise SampleError(f"{where}.frame_times: must be a non-empty list of seconds or null")
        times = tuple(_number(t, f"{where}.frame_times[{i}]") for i, t in enumerate(times))
    num_frames = raw.get("num_frames")
    if num_frames is not None and (isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1):
        raise SampleError(f"{where}.num_frames: must be a positive integer or null, got {num_frames!r}")
    return TrainSample(
        id=str(raw["id"]), task=raw["task"], source=str(raw.get("source", "")), video=str(raw["video"]),
        question=str(raw["question"]), solution=solution, start=start, end=end, frame_times=times,
        num_frames=num_frames, audio=bool(raw.get("audio", True)),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SampleError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def load_samples(path: str | Path) -> list[TrainSample]:
    """Read a JSONL file; relative video paths are resolved against the file's folder."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SampleError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"{path}: cannot read ({exc})") from None
    samples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise SampleError(f"{path}:{number}: not valid JSON ({exc})") from None
        sample = sample_from_json(raw, f"{path.name}:{number}")
        video = Path(sample.video)
        samples.append(replace(sample, video=str(video if video.is_absolute() else path.parent / video)))
    if not samples:
        raise SampleError(f"{path}: no samples")
    return samples


def write_samples(path: str | Path, samples: Iterable[TrainSample]) -> Path:
    """Write samples as JSONL, atomically."""
    path = Path(path)
    write_text_atomic(path, "".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in samples))
    return path


# ---------------------------------------------------------------- from `avr synth` benchmarks
def samples_from_benchmark(dataset: str | Path, videos_dir: str | Path | None = None,
                           seed: int = 0) -> list[TrainSample]:
    """Counting (every item, on its query interval), temporal grounding (event items, whole video),
    spatial grounding (object items, at their clue frames) and multiple-choice QA (every item's
    count as four options) from one benchmark."""
    dataset = Path(dataset)
    videos = Path(videos_dir) if videos_dir is not None else dataset.parent / "videos"
    rng = random.Random(seed)
    samples: list[TrainSample] = []
    for item in load_dataset(dataset):
        video = str(videos / item.video)
        samples.append(counting_sample(item, video))
        samples.append(qa_sample(item, video, rng))
        if item.category == "event":
            samples.append(temporal_sample(item, video))
        elif item.category == "object":
            samples.append(spatial_sample(item, video))
    return samples


def _clip(item: Item) -> tuple[float, float | None]:
    return item.query_interval if item.query_interval is not None else (0.0, None)


def _duration(item: Item) -> float | None:
    value = item.raw.get("duration")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def counting_sample(item: Item, video: str) -> TrainSample:
    start, end = _clip(item)
    return TrainSample(f"synth-{item.index}-counting", "counting", "synth", video,
                       f"{item.question} {COUNT_INSTRUCTION}", json.dumps(item.answer), start, end)


def qa_sample(item: Item, video: str, rng: random.Random) -> TrainSample:
    """The item's question as four numeric options around the true count."""
    distractors = [n for n in range(max(0, item.answer - 3), item.answer + 4) if n != item.answer]
    options = [item.answer, *rng.sample(distractors, 3)]
    rng.shuffle(options)
    lines = " ".join(f"({letter}) {n}" for letter, n in zip(OPTION_LETTERS, options, strict=True))
    letter = OPTION_LETTERS[options.index(item.answer)]
    start, end = _clip(item)
    return TrainSample(f"synth-{item.index}-qa", "qa", "synth", video,
                       f"{item.question} Options: {lines}. {CHOICE_INSTRUCTION}", json.dumps(letter), start, end)


def temporal_sample(item: Item, video: str) -> TrainSample:
    """'How many times does X?' becomes 'When does X?'; the solution is the event clues."""
    question = re.sub(r"^How many times does\b", "When does", item.question)
    if question == item.question:
        question = f"Find every occurrence counted by this question: {item.question}"
    intervals = [[c.start, c.end] for c in item.clue]
    return TrainSample(f"synth-{item.index}-temporal", "temporal_grounding", "synth", video,
                       f"{question} {TEMPORAL_INSTRUCTION}", json.dumps(intervals), 0.0, _duration(item))


def spatial_sample(item: Item, video: str) -> TrainSample:
    """The frames at the object clues' timestamps; the solution keeps the benchmark's per-frame form."""
    times = list(dict.fromkeys(box.timestamp for box in item.clue))
    frames = {f"Frame{times.index(t) + 1}": [] for t in times}
    for box in item.clue:
        frames[f"Frame{times.index(box.timestamp) + 1}"].append(list(box.bbox))
    target = item.raw.get("target") or {}
    what = " ".join(target[k] for k in ("colour", "shape") if k in target) or "counted object"
    question = f"Locate every {what} in the frames shown ({item.question})"
    return TrainSample(f"synth-{item.index}-spatial", "spatial_grounding", "synth", video,
                       f"{question} {SPATIAL_INSTRUCTION}", json.dumps(frames), 0.0, _duration(item),
                       frame_times=tuple(times), audio=False)


# ---------------------------------------------------------------- MUSIC-AVQA
# Layout of GeWu-Lab/MUSIC-AVQA (data/json/avqa-{train,val,test}.json, read by
# net_grd_avst/dataloader_avst.py): a JSON list of {"video_id", "question_id", "type" (a JSON list
# as text, e.g. '["Audio-Visual", "Counting"]'), "question_content" with <Placeholder> words filled
# in order from "templ_values" (a Python list literal as text), "anser" (sic: the answer word)}.
# Videos are <video_id>.mp4. Answers are open words; we make four options from the answers of other
# questions of the same type in the file (seeded), as multiple choice.
def samples_from_music_avqa(annotation: str | Path, videos_dir: str | Path, seed: int = 0) -> list[TrainSample]:
    annotation = Path(annotation)
    records = _read_json(annotation)
    if not isinstance(records, list):
        raise SampleError(f"{annotation}: a MUSIC-AVQA file holds a JSON list of questions")
    answers_by_type: dict[str, list[str]] = {}
    for n, rec in enumerate(records):
        _require(rec, ("video_id", "question_id", "question_content", "anser"), f"{annotation.name}[{n}]")
        answers_by_type.setdefault(str(rec.get("type", "")), []).append(str(rec["anser"]))
    rng = random.Random(seed)
    samples = []
    for rec in records:
        question = _fill_template(str(rec["question_content"]), rec.get("templ_values", "[]"))
        pool = sorted(set(answers_by_type[str(rec.get("type", ""))]) - {str(rec["anser"])})
        options = [str(rec["anser"]), *rng.sample(pool, min(3, len(pool)))]
        rng.shuffle(options)
        lines = " ".join(f"({OPTION_LETTERS[i]}) {o}" for i, o in enumerate(options))
        letter = OPTION_LETTERS[options.index(str(rec["anser"]))]
        samples.append(TrainSample(
            f"music_avqa-{rec['question_id']}", "qa", "music_avqa", str(Path(videos_dir) / f"{rec['video_id']}.mp4"),
            f"{question} Options: {lines}. {CHOICE_INSTRUCTION}", json.dumps(letter)))
    return samples


def _fill_template(question: str, values: Any) -> str:
    """'What is the <Object> on the <LR>?' with "['guitar', 'left']" -> the filled question."""
    try:
        fill = ast.literal_eval(values) if isinstance(values, str) else list(values)
    except (ValueError, SyntaxError):
        fill = []
    parts = iter(str(v) for v in fill)
    return re.sub(r"<[^<>]+>", lambda m: next(parts, m.group(0)), question).strip()


# ---------------------------------------------------------------- UnAV-100
# Layout of ttgeng233/UnAV (data/unav100_annotations.json): {"version": "unav100", "database":
# {video_id: {"duration": s, "subset": "train"|"validation"|"test", "annotations": [{"segment":
# [start, end], "label": "dog barking", "label_id": 12}, ...]}}}. Videos are <video_id>.mp4.
# One temporal-grounding sample per (video, label): every segment of that label.
def samples_from_unav100(annotation: str | Path, videos_dir: str | Path, subset: str = "train") -> list[TrainSample]:
    annotation = Path(annotation)
    data = _read_json(annotation)
    database = data.get("database") if isinstance(data, dict) else None
    if not isinstance(database, dict):
        raise SampleError(f"{annotation}: a UnAV-100 file holds {{'database': {{video_id: ...}}}}")
    samples = []
    for video_id, entry in database.items():
        where = f"{annotation.name}: database[{video_id!r}]"
        _require(entry, ("duration", "annotations"), where)
        if entry.get("subset", subset) != subset:
            continue
        by_label: dict[str, list[list[float]]] = {}
        for k, ann in enumerate(entry["annotations"]):
            _require(ann, ("segment", "label"), f"{where}.annotations[{k}]")
            start, end = (_number(v, f"{where}.annotations[{k}].segment") for v in ann["segment"])
            by_label.setdefault(str(ann["label"]), []).append([start, end])
        duration = _number(entry["duration"], f"{where}.duration")
        for label, segments in by_label.items():
            samples.append(TrainSample(
                f"unav100-{video_id}-{label.replace(' ', '_')}", "temporal_grounding", "unav100",
                str(Path(videos_dir) / f"{video_id}.mp4"), f"When does this happen: {label}? {TEMPORAL_INSTRUCTION}",
                json.dumps(sorted(segments)), 0.0, duration))
    return samples


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SampleError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SampleError(f"{path}: cannot read as JSON ({exc})") from None


def _require(record: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(record, dict):
        raise SampleError(f"{where}: expected an object, got {type(record).__name__}")
    for key in keys:
        if key not in record:
            raise SampleError(f"{where}: missing field '{key}'")


READERS = {"synth": samples_from_benchmark, "music_avqa": samples_from_music_avqa, "unav100": samples_from_unav100}
