""""Next failure" navigation and error totals over real ClueScores from the engine's scorer (no Qt)."""

from __future__ import annotations

import json
import random

import pytest

from avr_studio.models.error_totals import ALL, UNREADABLE, error_totals, table_rows
from avr_studio.models.failures import failure_stops, has_failure, next_failing_item, next_failure
from avr_studio.models.selection import InstanceRef
from engine.benchmark import item_from_json
from engine.scoring import score_clue
from engine.testing import clue_answer, perfect_answer, random_item

BOX = [10, 10, 50, 50]


def event_item(index: int = 1):
    clue = [{"start": 10, "end": 20}, {"start": 40, "end": 50}, {"start": 70, "end": 80}]
    return item_from_json({"index": index, "video": "v.mp4", "question": "How many knocks?", "category": "event",
                           "answer": 3, "clue": clue})


def object_item(index: int = 2):
    clue = [{"timestamp": 5.0, "bbox": BOX}, {"timestamp": 5.0, "bbox": [100, 100, 140, 140]},
            {"timestamp": 9.0, "bbox": BOX}]
    return item_from_json({"index": index, "video": "v.mp4", "question": "How many cups?", "category": "object",
                           "answer": 3, "clue": clue})


def event_answer() -> str:
    # GT0 missed; GT1 matched well; GT2 mislocalised (IoU 5/20); [90, 95] hallucinated;
    # [41, 50] overlaps GT1 but another prediction serves it better: a duplicate.
    return json.dumps([[40, 50], [75, 90], [90, 95], [41, 50]])


def test_failure_stops_of_an_event_item_in_time_order():
    item = event_item()
    score = score_clue(item, event_answer())
    stops = failure_stops(item, score)
    assert [(s.kind, s.time) for s in stops] == [
        ("missed", 10), ("duplicate", 41), ("mislocalised", 70), ("hallucinated", 90)]
    frame = score.clusters[0].frames[0]
    for stop in stops:
        assert frame.matches[stop.ref.match].kind == stop.kind  # the ref points at the breakdown row
    assert [s.kind for s in failure_stops(item, score, kinds=("missed",))] == ["missed"]


def test_failure_stops_of_an_object_item_use_the_frame_timestamps():
    item = object_item()
    answer = json.dumps({"Frame1": [BOX], "Frame2": [BOX, [200, 200, 230, 230]]})  # frame 1: one box missed
    score = score_clue(item, answer)
    stops = failure_stops(item, score)
    assert [(s.kind, s.time) for s in stops] == [("missed", 5.0), ("hallucinated", 9.0)]
    assert stops[0].ref == InstanceRef(0, 0, stops[0].ref.match)


def test_a_perfect_answer_has_no_failure_stops():
    item = event_item()
    score = score_clue(item, perfect_answer(item))
    assert failure_stops(item, score) == [] and not has_failure(score)


def test_next_failure_steps_from_the_selection_then_from_the_playhead():
    item = event_item()
    stops = failure_stops(item, score_clue(item, event_answer()))
    assert next_failure(stops, None, 0.0, +1).time == 10
    assert next_failure(stops, None, 10.0, +1).time == 41  # the one under the playhead is skipped
    assert next_failure(stops, None, 60.0, -1).time == 41
    assert next_failure(stops, stops[1].ref, 0.0, +1) is stops[2]  # from the selected instance
    assert next_failure(stops, stops[1].ref, 99.0, -1) is stops[0]
    assert next_failure(stops, stops[-1].ref, 0.0, +1) is None
    assert next_failure(stops, None, 5.0, -1) is None


def test_next_failing_item_follows_the_browser_order():
    order = [4, 8, 15, 16, 23]
    failing = {8: True, 16: True, 23: False}
    assert next_failing_item(order, 4, failing, +1) == 8
    assert next_failing_item(order, 8, failing, +1) == 16
    assert next_failing_item(order, 16, failing, +1) is None
    assert next_failing_item(order, 16, failing, -1) == 8
    assert next_failing_item(order, None, failing, +1) == 8
    assert next_failing_item(order, None, failing, -1) == 16


def test_error_totals_count_instances_and_know_their_items():
    ev, obj = event_item(1), object_item(2)
    scores = {
        1: score_clue(ev, event_answer()),
        2: score_clue(obj, json.dumps({"Frame1": [BOX], "Frame2": [BOX]})),  # one box of frame 1 missed
        3: score_clue(event_item(3), "I think there are three knocks"),  # unreadable
        4: score_clue(event_item(4), perfect_answer(event_item(4))),
    }
    totals = error_totals("runA", scores)
    assert totals.count("event", "missed") == 1  # an unreadable answer has no breakdown: counted apart
    assert totals.items("event", "missed") == {1}
    assert totals.count("object", "missed") == 1
    assert totals.count(ALL, "missed") == totals.count("event", "missed") + totals.count("object", "missed")
    assert totals.items(ALL, "hallucinated") == {1}
    assert totals.items("event", UNREADABLE) == {3}
    assert totals.count("event", "duplicate") == 1 and totals.count("event", "mislocalised") == 1
    assert totals.categories() == ["event", "object", ALL]
    counts, edges = totals.iou_histogram(bins=10)
    assert counts.sum() == len(totals.ious)
    assert counts[2] == 1  # the mislocalised pair, IoU 0.25
    assert edges[5] == pytest.approx(0.5)
    assert totals.items_with_iou(0.2, 0.3) == {1}  # the mislocalised pair's item
    assert totals.items_with_iou(0.9, 1.0) >= {4}  # a perfect answer: IoU 1.0 lands in the last bin
    assert table_rows(totals)[0][0] == "event"


@pytest.mark.parametrize("seed", range(20))
def test_error_totals_agree_with_each_items_breakdown(seed):
    rng = random.Random(seed)
    items = [item_from_json(random_item(rng, i, rng.randint(1, 6))) for i in range(12)]
    scores = {item.index: score_clue(item, clue_answer(item, rng, noise=rng.choice([0, 20, 200]))) for item in items}
    totals = error_totals("r", scores)
    for kind in ("missed", "hallucinated", "duplicate", "mislocalised", "matched"):
        assert totals.count(ALL, kind) == sum(s.kinds().get(kind, 0) for s in scores.values())
        assert totals.items(ALL, kind) == {i for i, s in scores.items() if s.kinds().get(kind)}
    failing = {i for i, s in scores.items() if has_failure(s)}
    named = set().union(*(totals.items(ALL, k) for k in ("missed", "hallucinated", "duplicate", "mislocalised",
                                                            UNREADABLE)))
    assert failing == named
