"""Synthetic benchmark: schema, exact ground truth, determinism, resume and predictions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from word2number import w2n

from engine.benchmark import load_dataset
from engine.synth import PROTOCOLS, RUNS, SynthConfig, generate_benchmark, plan_benchmark
from engine.synth.generate import benchmark_items
from engine.synth.oracle import number_word, prediction_line
from engine.synth.render import Painter
from engine.synth.scene import COLOURS, Scene

TINY = SynthConfig(videos=2, minutes=0.3, seed=3, width=320, height=180, with_predictions=True)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return out, generate_benchmark(out, TINY)


@pytest.fixture(scope="module")
def scenes() -> dict[str, Scene]:
    return {f"{scene.name}.mp4": scene for scene, _ in plan_benchmark(TINY)}


def _boxes(item) -> list:
    return list(item.clue) if item.category == "object" else [b for cluster in item.clue for b in cluster]


def _frame(scene: Scene, seconds: float) -> int:
    return int(seconds * scene.fps)


def test_dataset_loads_with_all_categories_and_modalities(bench):
    out, result = bench
    items = load_dataset(out / "dataset.json")
    assert items == result.items
    assert {i.category for i in items} == {"event", "object", "attribute"}
    assert {i.modality for i in items} == {"audio", "visual", "audio-visual"}
    assert 6 <= len(items) / TINY.videos <= 9
    assert sorted(i.index for i in items) == list(range(len(items)))
    assert all((out / "videos" / i.video).is_file() for i in items)


def test_answers_equal_clue_counts_and_clues_lie_in_query_interval(bench):
    for item in bench[1].items:
        assert item.answer == len(item.clue) >= 1
        q0, q1 = item.query_interval
        if item.category == "event":
            assert all(q0 <= c.start < c.end <= q1 for c in item.clue)
        else:
            assert all(q0 <= b.timestamp <= q1 for b in _boxes(item))


def _target_shapes(scene: Scene, target: dict) -> list:
    return [s for s in scene.shapes if s.kind == target["shape"] and target.get("colour") in (None, s.colour)]


def _recount(scene: Scene, item) -> int:
    """Count from the scene itself, the way a perfect viewer would over the whole video."""
    target = item.raw["target"]
    if item.category == "event" and item.modality == "audio":
        return sum(s.kind == target["sound"] for s in scene.sounds)
    shapes = _target_shapes(scene, target)
    if item.category == "event" and item.modality == "visual":
        return len(shapes)
    if item.category == "event":
        chirps = {
            (round(s.start * scene.fps), round(s.end * scene.fps)) for s in scene.sounds if s.kind == "chirp"
        }
        return sum((s.frame0, s.frame1) in chirps for s in shapes)
    if item.modality == "visual":
        return len(shapes) if item.category == "object" else len({s.colour for s in shapes})
    (trigger,) = [s for s in scene.sounds if s.kind == target["sound"]]
    on_screen = [s for s in shapes if s.visible(_frame(scene, trigger.start))]
    return len(on_screen) if item.category == "object" else len({s.colour for s in on_screen})


def test_ground_truth_matches_an_independent_recount_of_the_whole_scene(bench, scenes):
    for item in bench[1].items:
        assert _recount(scenes[item.video], item) == item.answer, item.question


def _box_items(bench, scenes):
    """(item, scene, painter) for every object and attribute item."""
    for item in bench[1].items:
        if item.category != "event":
            scene = scenes[item.video]
            yield item, scene, Painter(scene)


def test_boxes_cover_exactly_the_painted_pixels(bench, scenes):
    for item, scene, painter in _box_items(bench, scenes):
        for box in _boxes(item):
            x1, y1, x2, y2 = (int(v) for v in box.bbox)
            rgb = painter.paint(_frame(scene, box.timestamp)).astype(int)
            colour = rgb[(y1 + y2) // 2, (x1 + x2) // 2]
            assert tuple(colour) in COLOURS.values()
            mask = (rgb == colour).all(axis=2)
            inside = mask[y1:y2, x1:x2]
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            ring = mask[max(0, y1 - 1) : y2 + 1, max(0, x1 - 1) : x2 + 1].sum()
            assert ring == inside.sum(), "shape pixels outside its box"


def test_object_boxes_have_the_target_colour_and_clusters_one_colour_each(bench, scenes):
    for item, scene, painter in _box_items(bench, scenes):

        def colour_at(box, painter=painter, scene=scene):
            x1, y1, x2, y2 = (int(v) for v in box.bbox)
            return tuple(painter.paint(_frame(scene, box.timestamp))[(y1 + y2) // 2, (x1 + x2) // 2])

        if item.category == "object":
            assert {colour_at(b) for b in item.clue} == {COLOURS[item.raw["target"]["colour"]]}
        else:
            per_cluster = [{colour_at(b) for b in cluster} for cluster in item.clue]
            assert all(len(c) == 1 for c in per_cluster)
            assert len(set.union(*per_cluster)) == len(item.clue)


def test_same_seed_same_files_and_other_seed_differs(tmp_path):
    config = SynthConfig(videos=1, minutes=0.1, seed=11, width=160, height=90, with_predictions=True)
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_benchmark(first, config)
    generate_benchmark(second, config)
    generate_benchmark(other, SynthConfig(**{**config.__dict__, "seed": 12}))
    assert (first / "dataset.json").read_bytes() == (second / "dataset.json").read_bytes()
    files = sorted(p.relative_to(first) for p in (first / "predictions").rglob("*.txt"))
    assert len(files) == len(RUNS) * len(PROTOCOLS) * 7
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert (first / "dataset.json").read_bytes() != (other / "dataset.json").read_bytes()


def test_resume_renders_nothing_twice_and_only_what_is_missing(tmp_path):
    config = SynthConfig(videos=2, minutes=0.1, seed=5, width=160, height=90)
    first = generate_benchmark(tmp_path, config)
    assert first.rendered == ("vid000.mp4", "vid001.mp4") and first.predictions_dir is None
    mtimes = {p.name: p.stat().st_mtime_ns for p in first.videos_dir.iterdir()}
    again = generate_benchmark(tmp_path, config)
    assert again.rendered == () and again.skipped == ("vid000.mp4", "vid001.mp4")
    assert {p.name: p.stat().st_mtime_ns for p in again.videos_dir.iterdir()} == mtimes
    (tmp_path / "videos" / "vid001.mp4").unlink()
    assert generate_benchmark(tmp_path, config).rendered == ("vid001.mp4",)
    reseeded = generate_benchmark(tmp_path, SynthConfig(**{**config.__dict__, "seed": 6}))
    assert reseeded.rendered == ("vid000.mp4", "vid001.mp4")


def test_prediction_files_hold_one_line_with_pred_gt_and_the_item(bench):
    out, result = bench
    items = {i["index"]: i for i in json.loads((out / "dataset.json").read_text())}
    for run in RUNS:
        for protocol in PROTOCOLS:
            folder = result.predictions_dir / run.name / protocol
            assert sorted(int(p.stem) for p in folder.glob("*.txt")) == sorted(items)
            for path in folder.glob("*.txt"):
                (line,) = path.read_text().splitlines()
                record = json.loads(line)
                assert set(record) == {"pred", "gt", "input"} and isinstance(record["pred"], str)
                assert record["input"] == items[int(path.stem)]
                assert record["gt"] == record["input"]["answer"]


def _answer(text: str) -> str:
    match = re.search(r"<answer>(.*?)</answer>", text, re.S)
    return (match.group(1) if match else text).strip()


def _parsed_count(text: str) -> int:
    try:
        return w2n.word_to_num(_answer(text))
    except ValueError:
        return -1


def test_oracle_runs_differ_in_noise_and_shape_of_output():
    config = SynthConfig(videos=12, minutes=1.0, seed=1)
    items = benchmark_items(plan_benchmark(config))
    accuracy = {}
    for run in RUNS:
        preds = [json.loads(prediction_line(1, run, "long_acc", item))["pred"] for item in items]
        accuracy[run.name] = np.mean(
            [_parsed_count(p) == i["answer"] for p, i in zip(preds, items, strict=True)]
        )
        assert all(("<think>" in p) == run.thinking for p in preds)
    assert accuracy["oracle-thinking"] > accuracy["oracle-direct"] > 0.2
    clue = [json.loads(prediction_line(1, RUNS[0], "clue_acc", item))["pred"] for item in items]
    parsed = [json.loads(_answer(p)) for p in clue if _answer(p).startswith(("[", '{"Frame'))]
    assert len(parsed) > 0.8 * len(items)


def test_number_words_and_config_errors():
    assert [number_word(n) for n in (0, 7, 13, 20, 42)] == [
        "zero",
        "seven",
        "thirteen",
        "twenty",
        "forty two",
    ]
    assert w2n.word_to_num(number_word(42)) == 42
    for bad in ({"videos": 0}, {"minutes": 0.01}, {"width": 321}, {"fps": 0}):
        with pytest.raises(ValueError):
            SynthConfig(**bad).validate()
