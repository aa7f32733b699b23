"""Noisy oracle predictions in the benchmark's prediction layout.

They start from the exact ground truth and add seeded, per-run noise of the kinds
real models show (off-by-one counts, number words, prose around answers, jittered
or missing or invented clues, `mm:ss` times, corner-pair boxes, `bbox_2d`,
malformed answers), so the scorer and the studio have something realistic to
compare without any model.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.io import write_text_atomic
from engine.predictions import PROTOCOL_FOLDERS

#: The protocol folders written, in the order that seeds each run's noise (byte-stable output).
PROTOCOLS: tuple[str, ...] = tuple(PROTOCOL_FOLDERS)

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


@dataclass(frozen=True)
class OracleRun:
    """A simulated model: how often it is right and how it fails."""

    name: str
    thinking: bool
    exact: float
    jitter: float
    miss: float
    extra: float
    malformed: float


RUNS: tuple[OracleRun, ...] = (
    OracleRun("oracle-thinking", thinking=True, exact=0.7, jitter=0.06, miss=0.1, extra=0.1, malformed=0.03),
    OracleRun("oracle-direct", thinking=False, exact=0.45, jitter=0.15, miss=0.2, extra=0.25, malformed=0.08),
)


def number_word(n: int) -> str:
    if 0 <= n < 20:
        return _ONES[n]
    if 20 <= n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    return str(n)


def _rng(seed: int, run: OracleRun, protocol: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(run.name.encode()), PROTOCOLS.index(protocol), index])


def _chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _wrap(run: OracleRun, item: dict, answer: str) -> str:
    """Thinking runs reason first (no numbers in the reasoning, so it never changes the parsed count)."""
    if not run.thinking:
        return answer
    reasoning = (
        f"The question is: {item['question_en']} I go through the video and note every matching moment."
    )
    return f"<think>{reasoning}</think><answer>{answer}</answer>"


def predict_count(rng: np.random.Generator, run: OracleRun, item: dict, protocol: str) -> str:
    """A black-box answer: usually the count (maybe off by one or two), sometimes worded or unusable."""
    if _chance(rng, run.malformed):
        return _wrap(run, item, str(rng.choice(["I cannot tell from the video.", "about 3.5", "several"])))
    exact = run.exact + (0.1 if protocol == "ref_acc" else 0.0)
    gt = int(item["answer"])
    count = gt if _chance(rng, exact) else max(0, gt + int(rng.choice([-2, -1, -1, 1, 1, 2])))
    style = rng.random()
    text = (
        str(count) if style < 0.65 else number_word(count) if style < 0.85 else f"There are {count} of them."
    )
    return _wrap(run, item, text)


def _clock(t: float) -> str:
    minutes, secs = divmod(max(0.0, t), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return (f"{hours}:" if hours else "") + f"{minutes:02d}:{secs:05.2f}"


def _time_pair(rng: np.random.Generator, start: float, end: float) -> list:
    style = rng.random()
    if style < 0.7:
        return [round(start, 2), round(end, 2)]
    if style < 0.8:
        return [f"{start:.2f}", f"{end:.2f}"]
    if style < 0.95:
        return [_clock(start), _clock(end)]
    return [f"{start:.1f} seconds", f"{end:.1f} seconds"]


def _event_clue(rng: np.random.Generator, run: OracleRun, item: dict) -> object:
    pairs = []
    for clue in item["clue"]:
        if _chance(rng, run.miss):
            continue
        scale = run.jitter * max(0.5, clue["end"] - clue["start"])
        a, b = sorted((clue["start"] + rng.normal(0, scale), clue["end"] + rng.normal(0, scale)))
        pairs.append((max(0.0, a), max(0.0, b)))
    q0, q1 = item["query_interval"]
    while _chance(rng, run.extra):
        start = float(rng.uniform(q0, q1))
        pairs.append((start, start + float(rng.uniform(0.3, 1.5))))
    return [_time_pair(rng, a, b) for a, b in sorted(pairs)]


def _jitter_box(rng: np.random.Generator, run: OracleRun, box: list) -> list[float]:
    w, h = box[2] - box[0], box[3] - box[1]
    noise = rng.normal(0, run.jitter, 4) * np.array([w, h, w, h])
    return [round(float(v), 2) for v in np.asarray(box, dtype=float) + noise]


def _invented_box(rng: np.random.Generator, item: dict) -> list[float]:
    """A hallucinated box somewhere in the picture (its extent guessed from the GT boxes)."""
    boxes = (
        [b["bbox"] for b in item["clue"]]
        if item["category"] == "object"
        else [b["bbox"] for cluster in item["clue"] for b in cluster]
    )
    width, height = max(b[2] for b in boxes), max(b[3] for b in boxes)
    size = float(rng.uniform(0.05, 0.2)) * width
    x, y = float(rng.uniform(0, width - size)), float(rng.uniform(0, max(1.0, height - size)))
    return [round(x, 2), round(y, 2), round(x + size, 2), round(y + size, 2)]


def _frames(boxes: list[dict]) -> list[float]:
    """Distinct clue timestamps in order of first appearance: the benchmark's frame numbering."""
    return list(dict.fromkeys(b["timestamp"] for b in boxes))


def _object_clue(rng: np.random.Generator, run: OracleRun, item: dict) -> object:
    frames = _frames(item["clue"])
    spaced = _chance(rng, 0.3)
    out: dict[str, list] = {}
    for k, stamp in enumerate(frames, start=1):
        boxes = [_jitter_box(rng, run, b["bbox"]) for b in item["clue"] if b["timestamp"] == stamp]
        boxes = [b for b in boxes if not _chance(rng, run.miss)]
        if _chance(rng, run.extra):
            boxes.append(_invented_box(rng, item))
        if boxes and _chance(rng, 0.15):
            boxes = [corner for b in boxes for corner in (b[:2], b[2:])]
        out[f"Frame {k}" if spaced else f"Frame{k}"] = boxes
    return out


def _attribute_clue(rng: np.random.Generator, run: OracleRun, item: dict) -> object:
    clusters = item["clue"]
    frames = _frames([b for cluster in clusters for b in cluster])
    labels = [f"Label {k}" for k in rng.permutation(len(clusters)) + 1]
    out: dict[str, list] = {f"Frame {k}": [] for k in range(1, len(frames) + 1)}
    for cluster, label in zip(clusters, labels, strict=True):
        for box in cluster:
            if _chance(rng, run.miss):
                continue
            name = str(rng.choice(labels)) if _chance(rng, run.extra / 2) else label
            key = "bbox_2d" if _chance(rng, 0.3) else "bbox"
            out[f"Frame {frames.index(box['timestamp']) + 1}"].append(
                {key: _jitter_box(rng, run, box["bbox"]), "label": name}
            )
    if _chance(rng, run.extra):
        frame = f"Frame {int(rng.integers(1, len(frames) + 1))}"
        out[frame].append({"bbox": _invented_box(rng, item), "label": f"Label {len(clusters) + 1}"})
    return out


_CLUE_MAKERS = {"event": _event_clue, "object": _object_clue, "attribute": _attribute_clue}


def predict_clue(rng: np.random.Generator, run: OracleRun, item: dict) -> str:
    """A white-box answer: the clue JSON with noise, sometimes inside prose, sometimes malformed."""
    if _chance(rng, run.malformed):
        return str(
            rng.choice([f'<answer>{{"count": {item["answer"]}}}</answer>', "I think there are several."])
        )
    text = json.dumps(_CLUE_MAKERS[item["category"]](rng, run, item))
    if not run.thinking and _chance(rng, 0.25):
        return f"Here is what I found: {text} in the video."
    return _wrap(run, item, text)


def prediction_line(seed: int, run: OracleRun, protocol: str, item: dict) -> str:
    """The one JSON line of `<index>.txt`, exactly as the benchmark's scripts write it."""
    rng = _rng(seed, run, protocol, int(item["index"]))
    if protocol == "clue_acc":
        pred = predict_clue(rng, run, item)
    else:
        pred = predict_count(rng, run, item, protocol)
    return json.dumps({"pred": pred, "gt": item["answer"], "input": item})


def write_predictions(root: Path, items: list[dict], seed: int) -> None:
    """root/<run>/<protocol>/<index>.txt for every run, protocol and item; a file for an item this
    benchmark no longer has (an earlier, larger run into the same folder) is removed, so a
    protocol folder always holds exactly the dataset's items."""
    wanted = {f"{item['index']}.txt" for item in items}
    for run in RUNS:
        for protocol in PROTOCOLS:
            folder = root / run.name / protocol
            for item in items:
                write_text_atomic(folder / f"{item['index']}.txt", prediction_line(seed, run, protocol, item))
            for stale in folder.glob("*.txt"):
                if stale.name not in wanted and stale.stem.isdigit():
                    stale.unlink()
