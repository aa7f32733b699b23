"""Properties the white-box score must have whatever the model writes."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.benchmark import item_from_json
from engine.parsing import answer_json_from_parsed, parse_clue
from engine.results import ParsedClue
from engine.scoring import box_iou, interval_iou, score_clue, score_parsed
from engine.testing import clue_answer, perfect_answer, random_item

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def _item(seed: int):
    rng = random.Random(seed)
    return item_from_json(random_item(rng, 0, rng.randint(1, 9))), rng


@settings(max_examples=200, deadline=None)
@given(seeds)
def test_perfect_prediction_scores_100(seed: int) -> None:
    item, _ = _item(seed)
    score = score_clue(item, perfect_answer(item))
    assert not score.failed
    assert score.score == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(seeds, st.floats(min_value=0, max_value=400))
def test_wcs_always_within_bounds(seed: int, noise: float) -> None:
    item, rng = _item(seed)
    score = score_clue(item, clue_answer(item, rng, noise))
    assert 0.0 <= score.score <= 1.0
    assert score.failed == (score.reason is not None)


def _shuffled(parsed: ParsedClue, rng: random.Random) -> ParsedClue:
    def shuffle(seq):
        seq = list(seq)
        rng.shuffle(seq)
        return seq

    if not parsed.ok:
        return parsed
    if parsed.category == "event":
        return ParsedClue("event", intervals=tuple(shuffle(parsed.intervals)))
    if parsed.category == "object":
        return ParsedClue("object", frames={f: shuffle(b) for f, b in shuffle(parsed.frames.items())})
    clusters = {label: {f: shuffle(b) for f, b in shuffle(frames.items())}
                for label, frames in shuffle(parsed.clusters.items())}
    return ParsedClue("attribute", clusters=clusters)


@settings(max_examples=300, deadline=None)
@given(seeds, seeds)
def test_shuffling_predicted_instances_keeps_the_score(seed: int, shuffle_seed: int) -> None:
    item, rng = _item(seed)
    parsed = parse_clue(item.category, clue_answer(item, rng, 25.0))
    original = score_parsed(item, parsed)
    shuffled = score_parsed(item, _shuffled(parsed, random.Random(shuffle_seed)))
    assert shuffled.failed == original.failed
    assert shuffled.score == pytest.approx(original.score, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(seeds)
def test_edited_geometry_round_trips_through_text(seed: int) -> None:
    item, rng = _item(seed)
    parsed = parse_clue(item.category, clue_answer(item, rng, 15.0))
    if not parsed.ok:
        return
    assert score_clue(item, answer_json_from_parsed(parsed)).score == pytest.approx(score_parsed(item, parsed).score)


def test_iou_helpers() -> None:
    assert interval_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert interval_iou((0, 10), (20, 30)) == 0
    assert interval_iou((5, 5), (5, 5)) == 0  # zero span
    assert box_iou((0, 0, 10, 10), (10, 10, 0, 0)) == 1.0  # corners reordered
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)


def _event_item(intervals):
    return item_from_json({"index": 1, "category": "event", "answer": len(intervals),
                           "clue": [{"start": s, "end": e} for s, e in intervals]})


def test_event_breakdown_taxonomy_and_numbers() -> None:
    item = _event_item([(0, 10), (20, 30), (40, 50)])
    score = score_clue(item, json.dumps([[0, 10], [22, 30], [100, 110], [41, 50]]))
    frame = score.clusters[0].frames[0]
    la = (1 + 0.8 + 0.9) / 3
    cap = 1 - 1 / 3
    assert frame.la == pytest.approx(la) and frame.cap == pytest.approx(cap)
    assert score.score == pytest.approx((la * cap) ** 0.5)
    assert score.kinds() == {"matched": 3, "hallucinated": 1}


def test_object_greedy_matching_and_extra_frames() -> None:
    item = item_from_json({"index": 2, "category": "object", "answer": 2, "clue": [
        {"timestamp": 5.0, "bbox": [0, 0, 10, 10]}, {"timestamp": 5.0, "bbox": [20, 0, 30, 10]}]})
    pred = json.dumps({"Frame1": [[0, 0, 10, 10], [24, 0, 34, 10], [100, 100, 110, 110]], "Frame2": []})
    score = score_clue(item, pred)
    f1, f2 = score.clusters[0].frames
    iou2 = 6 * 10 / (14 * 10)
    assert f1.la == pytest.approx((1 + iou2) / 2)
    assert f1.cap == pytest.approx(0.5)
    assert f2.n_gt == 0 and f2.score == 0  # a predicted frame with no GT still counts in the mean
    assert score.score == pytest.approx(((1 + iou2) / 2 * 0.5) ** 0.5 / 2)
    kinds = [m.kind for m in f1.matches]
    assert kinds == ["matched", "mislocalised", "hallucinated"]


def test_attribute_hungarian_assignment() -> None:
    item = item_from_json({"index": 3, "category": "attribute", "answer": 2, "clue": [
        [{"timestamp": 1.0, "bbox": [0, 0, 10, 10]}], [{"timestamp": 1.0, "bbox": [50, 50, 60, 60]}]]})
    pred = json.dumps({"Frame 1": [{"bbox": [50, 50, 60, 60], "label": "b"}, {"bbox": [0, 0, 10, 10], "label": "a"}]})
    score = score_clue(item, pred)
    assert score.score == pytest.approx(1.0)
    assert [c.pred_label for c in score.clusters] == ["a", "b"]


def test_unscorable_answer_is_a_failure_not_a_crash() -> None:
    item = _event_item([(0, 10)])
    score = score_clue(item, "no idea")
    assert score.failed and score.score == 0 and "no JSON" in score.reason
