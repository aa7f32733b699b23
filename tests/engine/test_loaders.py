"""Bad inputs give one clear message or a counted failure, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.benchmark import DatasetError, load_dataset
from engine.predictions import PredictionError, load_predictions
from engine.scoring import evaluate_set

GOOD = {"index": 0, "video": "v.mp4", "question_en": "q", "category": "event", "answer": 1,
        "clue": [{"start": 1.0, "end": 2.0}], "query_interval": [0, 10], "custom_field": {"keep": True}}


def _write(path: Path, data) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_dataset_keeps_unknown_fields(tmp_path: Path) -> None:
    items = load_dataset(_write(tmp_path / "d.json", [GOOD]))
    assert items[0].raw["custom_field"] == {"keep": True}
    assert items[0].to_json() == GOOD


@pytest.mark.parametrize(("data", "message"), [
    ("", "empty"),
    ("{not json", "not valid JSON"),
    ({"index": 0}, "JSON list"),
    ([GOOD, {k: v for k, v in GOOD.items() if k != "category"} | {"index": 1}], "item #1 (index 1): missing field 'category'"),
    ([GOOD | {"clue": [{"start": 5, "end": 2}]}], "end 2.0 is before start 5.0"),
    ([GOOD | {"category": "object", "clue": [{"timestamp": 1, "bbox": [0, float("nan"), 1, 1]}]}], "not a finite number"),
    ([GOOD | {"category": "sound"}], "'category' must be one of"),
    ([GOOD, GOOD], "repeats"),
])
def test_bad_dataset_reports_item_and_field(tmp_path: Path, data, message: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, allow_nan=True))
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(path)


def test_missing_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(tmp_path / "nope.json")


def _line(pred, item=GOOD, gt=1) -> str:
    return json.dumps({"pred": pred, "gt": gt, "input": item})


def test_prediction_folder_skips_and_counts_non_json_lines(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "clue_acc"
    folder.mkdir(parents=True)
    (folder / "0.txt").write_text("garbage\n" + _line("[[1, 2]]") + "\n{\"half\": \n")
    pset = load_predictions(tmp_path / "run")
    assert pset.protocol == "clue" and pset.name == "run"
    assert len(pset) == 1 and pset.skipped_lines == 2


def test_jsonl_and_protocol_guess(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text("\n".join(_line(str(i), GOOD | {"index": i}) for i in range(5)))
    pset = load_predictions(path)
    assert pset.protocol == "long" and len(pset) == 5
    assert evaluate_set(pset).report.acc == pytest.approx(20.0)  # only "1" equals gt 1


def test_item_without_category_is_a_counted_failure(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    bad = {k: v for k, v in GOOD.items() if k != "category"} | {"index": 1}
    path.write_text(_line("[[1, 2]]") + "\n" + _line("[[1, 2]]", bad) + "\n")
    ev = evaluate_set(load_predictions(path, "clue"))
    assert ev.report.n == 2 and ev.report.per_item[1].failed
    assert "missing field 'category'" in ev.report.per_item[1].reason
    assert ev.report.ifa == 0.5


def test_non_text_pred_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(_line(7, gt=7) + "\n")
    report = evaluate_set(load_predictions(path, "long")).report
    assert report.per_item[0].failed and report.acc == 0  # word2number rejects non-text, as the scripts do


@pytest.mark.parametrize("setup", ["missing", "empty_dir", "only_garbage"])
def test_unusable_prediction_paths(tmp_path: Path, setup: str) -> None:
    path = tmp_path / "x"
    if setup == "empty_dir":
        path.mkdir()
    elif setup == "only_garbage":
        path.write_text("not json\nstill not\n")
    with pytest.raises(PredictionError):
        load_predictions(path)


def test_fifty_megabyte_prediction_file(tmp_path: Path) -> None:
    """A huge answer is scored (or counted as failed) without blowing up."""
    path = tmp_path / "huge.jsonl"
    huge = "[" + ", ".join(["[1.0, 2.0]"] * 4_500_000) + "]"  # ~50 MB on one line
    path.write_text(_line(huge) + "\n" + _line("[[1, 2]]", GOOD | {"index": 1}) + "\n")
    assert path.stat().st_size > 45_000_000
    pset = load_predictions(path, "clue")
    assert pset.skipped_lines == 1 and "too long" in pset.skip_reasons[0]
    assert evaluate_set(pset).report.per_item[1].score == pytest.approx(1.0)
