"""Random benchmark items and model answers in the formats models really produce.

Used by property tests and the scoring benchmark: no video, just the JSON side,
so thousands of items cost milliseconds. (Videos come from `engine.synth`.)
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from engine.benchmark import Item, items_from_json

WIDTH, HEIGHT = 1280, 720


@dataclass(frozen=True)
class ScoringFixture:
    items: list[Item]
    long_preds: dict[int, str]
    clue_preds: dict[int, str]

    @property
    def clue_count(self) -> int:
        return sum(_clue_size(item) for item in self.items)


def _clue_size(item: Item) -> int:
    return sum(len(c) for c in item.clue) if item.category == "attribute" else len(item.clue)


def random_box(rng: random.Random) -> list[float]:
    x1, y1 = rng.uniform(0, WIDTH - 60), rng.uniform(0, HEIGHT - 60)
    return [round(x1, 2), round(y1, 2), round(min(WIDTH, x1 + rng.uniform(20, 300)), 2),
            round(min(HEIGHT, y1 + rng.uniform(20, 250)), 2)]


def random_item(rng: random.Random, index: int, n_instances: int) -> dict:
    category = rng.choices(("event", "object", "attribute"), weights=(5, 4, 1))[0]
    duration = rng.uniform(600, 3600)
    if category == "event":
        starts = sorted(rng.uniform(0, duration - 30) for _ in range(n_instances))
        clue: list = [{"start": round(s, 2), "end": round(s + rng.uniform(0.5, 25), 2)} for s in starts]
        answer = len(clue)
    elif category == "object":
        times = [round(rng.uniform(0, duration), 2) for _ in range(rng.randint(1, 3))]
        clue = [{"timestamp": rng.choice(times), "bbox": random_box(rng)} for _ in range(n_instances)]
        answer = n_instances
    else:
        times = [round(rng.uniform(0, duration), 2) for _ in range(rng.randint(1, 3))]
        k = max(1, min(4, n_instances // 2))
        sizes = [n_instances // k + (i < n_instances % k) for i in range(k)]
        clue = [[{"timestamp": rng.choice(times), "bbox": random_box(rng)} for _ in range(size)] for size in sizes]
        answer = k
    return {"index": index, "video": f"vid{index:04d}.mp4", "question_en": f"How many in question {index}?",
            "category": category, "answer": answer, "clue": clue, "query_interval": [0.0, round(duration, 2)],
            "modality": rng.choice(("audio", "visual", "audio-visual"))}


def _jitter_box(rng: random.Random, box, scale: float) -> list[float]:
    return [round(v + rng.gauss(0, scale), 2) for v in box]


def clue_answer(item: Item, rng: random.Random, noise: float = 10.0) -> str:
    """A plausible clue answer: jittered GT with dropped/extra instances, in varied wrappers."""
    if item.category == "event":
        pairs = [[round(c.start + rng.gauss(0, noise / 5), 2), round(c.end + rng.gauss(0, noise / 5), 2)]
                 for c in item.clue if rng.random() > 0.1]
        if rng.random() < 0.3:
            pairs.append([round(rng.uniform(0, 3000), 2), round(rng.uniform(0, 3000), 2)])
        if pairs and rng.random() < 0.3:
            pairs[0] = [f"{int(pairs[0][0] // 60):02d}:{pairs[0][0] % 60:05.2f}",
                        f"{int(pairs[0][1] // 60):02d}:{pairs[0][1] % 60:05.2f}"]
        payload: object = pairs
    elif item.category == "object":
        times = list(dict.fromkeys(c.timestamp for c in item.clue))
        payload = {f"Frame{times.index(c.timestamp) + 1}": [] for c in item.clue}
        for c in item.clue:
            if rng.random() > 0.1:
                payload[f"Frame{times.index(c.timestamp) + 1}"].append(_jitter_box(rng, c.bbox, noise))
    else:
        times = list(dict.fromkeys(b.timestamp for cl in item.clue for b in cl))
        payload = {}
        for k, cluster in enumerate(item.clue):
            for b in cluster:
                key = f"Frame {times.index(b.timestamp) + 1}"
                field = rng.choice(("bbox", "bbox_2d"))
                payload.setdefault(key, []).append({field: _jitter_box(rng, b.bbox, noise), "label": f"Label {k + 1}"})
    return _wrap(json.dumps(payload), rng)


def _wrap(answer: str, rng: random.Random) -> str:
    style = rng.random()
    if style < 0.5:
        return f"<think>Looking at each moment.</think><answer>{answer}</answer>"
    if style < 0.8:
        return answer
    if style < 0.95:
        return f"The instances are {answer} in the video."
    return "I cannot tell."


def count_answer(item: Item, rng: random.Random) -> str:
    value = max(0, item.answer + rng.choice((0, 0, 0, 1, -1, 2)))
    words = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    style = rng.random()
    if style < 0.6:
        return str(value)
    if style < 0.75 and value < len(words):
        return words[value]
    if style < 0.9:
        return f"<answer>{value}</answer>"
    return f"There are {value} of them."


def scoring_fixture(n_items: int = 1027, n_clues: int = 5845, seed: int = 0) -> ScoringFixture:
    """A benchmark-sized set: n_items items holding about n_clues clue instances in all."""
    rng = random.Random(seed)
    per_item = [1] * n_items
    for _ in range(n_clues - n_items):
        per_item[rng.randrange(n_items)] += 1
    items = items_from_json([random_item(rng, i, per_item[i]) for i in range(n_items)])
    return ScoringFixture(items, {i.index: count_answer(i, rng) for i in items},
                          {i.index: clue_answer(i, rng) for i in items})


def perfect_answer(item: Item) -> str:
    """The GT itself written as a clue answer (scores exactly 100)."""
    if item.category == "event":
        return json.dumps([[c.start, c.end] for c in item.clue])
    if item.category == "object":
        times = list(dict.fromkeys(c.timestamp for c in item.clue))
        payload: dict = {}
        for c in item.clue:
            payload.setdefault(f"Frame{times.index(c.timestamp) + 1}", []).append(list(c.bbox))
        return json.dumps(payload)
    times = list(dict.fromkeys(b.timestamp for cl in item.clue for b in cl))
    payload = {}
    for k, cluster in enumerate(item.clue):
        for b in cluster:
            payload.setdefault(f"Frame {times.index(b.timestamp) + 1}", []).append({"bbox": list(b.bbox), "label": f"L{k}"})
    return json.dumps(payload)
