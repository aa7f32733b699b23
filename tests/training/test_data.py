"""Training samples: schema round trip, synth converters, MUSIC-AVQA and UnAV-100 readers on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.synth import SynthConfig, generate_benchmark
from training.data import (
    SampleError,
    TrainSample,
    load_samples,
    samples_from_benchmark,
    samples_from_music_avqa,
    samples_from_unav100,
    write_samples,
)
from training.rewards import REWARDS


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate_benchmark(out, SynthConfig(videos=1, minutes=0.2, width=128, height=72, fps=5))
    return out


def test_synth_converter_covers_every_task(synth):
    items = json.loads((synth / "dataset.json").read_text())
    samples = samples_from_benchmark(synth / "dataset.json")
    by_task: dict[str, list[TrainSample]] = {}
    for s in samples:
        by_task.setdefault(s.task, []).append(s)
    assert len(by_task["counting"]) == len(by_task["qa"]) == len(items)
    assert len(by_task["temporal_grounding"]) == sum(i["category"] == "event" for i in items)
    assert len(by_task["spatial_grounding"]) == sum(i["category"] == "object" for i in items)
    assert all(Path(s.video).is_file() for s in samples)


def test_synth_solutions_are_what_the_rewards_score_as_perfect(synth):
    """The GT written as an answer earns reward 1 under its task's reward: schema and rewards agree."""
    reward_of = {"counting": "count_reward", "temporal_grounding": "temporal_iou_reward",
                 "spatial_grounding": "spatial_iou_reward", "qa": "qa_accuracy_reward"}
    for s in samples_from_benchmark(synth / "dataset.json"):
        answer = s.solution_value if isinstance(s.solution_value, str) else s.solution
        completion = f"<think>ok</think><answer>{answer}</answer>"
        assert REWARDS[reward_of[s.task]]([completion], solution=[s.solution]) == [1.0], s
        assert REWARDS["format_reward"]([completion], task=[s.task]) == [1.0], s


def test_synth_temporal_and_spatial_samples(synth):
    items = {i["index"]: i for i in json.loads((synth / "dataset.json").read_text())}
    samples = samples_from_benchmark(synth / "dataset.json")
    temporal = next(s for s in samples if s.task == "temporal_grounding")
    item = items[int(temporal.id.split("-")[1])]
    assert temporal.question.startswith("When does")
    assert temporal.solution_value == [[c["start"], c["end"]] for c in item["clue"]]
    assert (temporal.start, temporal.end) == (0.0, item["duration"])
    spatial = next(s for s in samples if s.task == "spatial_grounding")
    item = items[int(spatial.id.split("-")[1])]
    assert spatial.frame_times == tuple(dict.fromkeys(c["timestamp"] for c in item["clue"]))
    assert sum(len(v) for v in spatial.solution_value.values()) == len(item["clue"])
    qa = next(s for s in samples if s.task == "qa")
    letter = qa.solution_value
    assert f"({letter}) {items[int(qa.id.split('-')[1])]['answer']}" in qa.question


def test_jsonl_round_trip_and_relative_videos(tmp_path, synth):
    samples = samples_from_benchmark(synth / "dataset.json")
    rel = [TrainSample(**{**s.to_json(), "video": "videos/" + Path(s.video).name,
                          "frame_times": s.frame_times}) for s in samples]
    path = write_samples(tmp_path / "train.jsonl", rel)
    (tmp_path / "videos").symlink_to(synth / "videos")
    loaded = load_samples(path)
    assert [s.id for s in loaded] == [s.id for s in samples]
    assert all(Path(s.video).is_file() for s in loaded)
    assert loaded[0].solution == samples[0].solution


@pytest.mark.parametrize("line, message", [
    ('{"id": 1, "task": "caption", "video": "v", "question": "q", "solution": "1"}', "task: must be one of"),
    ('{"id": 1, "task": "qa", "video": "v", "question": "q", "solution": 3}', "solution: must be a JSON string"),
    ('{"id": 1, "task": "qa", "video": "v", "question": "q"}', "missing field 'solution'"),
    ('{"id": 1, "task": "qa", "video": "v", "question": "q", "solution": "1", "start": 5, "end": 2}', "end"),
    ('not json', "not valid JSON"),
])
def test_bad_sample_lines_name_the_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(SampleError, match=message) as info:
        load_samples(path)
    assert "bad.jsonl:1" in str(info.value)


def test_music_avqa_reader(tmp_path):
    records = [
        {"video_id": "00000272", "question_id": 11, "type": '["Audio-Visual", "Counting"]',
         "question_content": "How many <Object> are sounding in the video?", "templ_values": "['instruments']",
         "anser": "two"},
        {"video_id": "00000273", "question_id": 12, "type": '["Audio-Visual", "Counting"]',
         "question_content": "How many instruments are sounding?", "templ_values": "[]", "anser": "three"},
        {"video_id": "00000274", "question_id": 13, "type": '["Audio-Visual", "Counting"]',
         "question_content": "How many sounding instruments?", "templ_values": "[]", "anser": "one"},
        {"video_id": "00000275", "question_id": 14, "type": '["Audio-Visual", "Counting"]',
         "question_content": "How many?", "templ_values": "[]", "anser": "four"},
        {"video_id": "00000276", "question_id": 15, "type": '["Visual", "Location"]',
         "question_content": "Where is the <Object> on the <LR>?", "templ_values": "['cello', 'left']",
         "anser": "yes"},
    ]
    path = tmp_path / "avqa-train.json"
    path.write_text(json.dumps(records))
    samples = samples_from_music_avqa(path, tmp_path / "videos", seed=1)
    first = samples[0]
    assert first.id == "music_avqa-11" and first.task == "qa"
    assert first.question.startswith("How many instruments are sounding in the video? Options: (A)")
    assert first.video == str(tmp_path / "videos" / "00000272.mp4")
    assert f"({first.solution_value}) two" in first.question
    assert all(w in first.question for w in ("three", "one", "four"))  # distractors from the same type
    assert samples[4].question.startswith("Where is the cello on the left?")
    assert samples[4].question.count("(") == 1  # no other answer of that type: a single option
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"video_id": "x", "question_id": 1, "question_content": "q"}]))
    with pytest.raises(SampleError, match="missing field 'anser'"):
        samples_from_music_avqa(bad, tmp_path)


def test_unav100_reader(tmp_path):
    data = {"version": "unav100", "database": {
        "72f67ednp7w": {"duration": 47.68, "subset": "train", "annotations": [
            {"segment": [21.01, 37.7377], "label": "skateboarding", "label_id": 36},
            {"segment": [13.01, 15.78316], "label": "skateboarding", "label_id": 36},
            {"segment": [0, 5], "label": "man speaking", "label_id": 0}]},
        "8WSesSOfBrE": {"duration": 39, "subset": "test", "annotations": [
            {"segment": [0, 39], "label": "sailing", "label_id": 55}]},
    }}
    path = tmp_path / "unav100_annotations.json"
    path.write_text(json.dumps(data))
    samples = samples_from_unav100(path, tmp_path / "videos")
    assert [s.id for s in samples] == ["unav100-72f67ednp7w-skateboarding", "unav100-72f67ednp7w-man_speaking"]
    skate = samples[0]
    assert skate.solution_value == [[13.01, 15.78316], [21.01, 37.7377]]
    assert (skate.start, skate.end, skate.task) == (0.0, 47.68, "temporal_grounding")
    assert "skateboarding" in skate.question
    assert [s.id for s in samples_from_unav100(path, tmp_path, subset="test")] == ["unav100-8WSesSOfBrE-sailing"]
    path.write_text(json.dumps({"database": {"v": {"duration": 3, "annotations": [{"label": "x"}]}}}))
    with pytest.raises(SampleError, match=r"annotations\[0\]: missing field 'segment'"):
        samples_from_unav100(path, tmp_path)
