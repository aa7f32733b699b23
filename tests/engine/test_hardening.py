"""Issue 7 regressions: hostile prediction files, datasets and folders give our own errors or clear
warnings, never a traceback, a hang, unbounded memory or invalid JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine.benchmark import DatasetError, load_dataset
from engine.cli import main
from engine.errors import UserError
from engine.media.errors import MediaError, NoAudioError
from engine.parsing import extract_answer_text, find_json, first_number, parse_count
from engine.predictions import PROTOCOL_FOLDERS, PredictionError, load_predictions, load_run, run_name
from engine.scoring import evaluate_set, score_clue, score_count

ITEM = {"index": 0, "category": "object", "answer": 5, "clue": [{"timestamp": 1.0, "bbox": [0, 0, 10, 10]}]}


def _line(pred, item=ITEM, gt=5, **extra) -> str:
    return json.dumps({"pred": pred, "gt": gt, "input": item, **extra}) + "\n"


def _strict_json(text: str) -> dict:
    """json.loads that refuses NaN / Infinity, as any strict JSON parser does."""
    def refuse(token: str):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def _eval_json(capsys, *args: str) -> dict:
    assert main(["eval", *args, "--json"]) == 0
    return _strict_json(capsys.readouterr().out)


# ---------------------------------------------------------------- groundwork
def test_one_error_root() -> None:
    assert issubclass(MediaError, UserError) and issubclass(NoAudioError, UserError)
    assert issubclass(PredictionError, UserError) and issubclass(DatasetError, UserError)


def test_one_protocol_folder_map_and_run_loader(public_fixture: Path) -> None:
    sets = load_run(public_fixture)
    assert list(sets) == ["long", "clue"] and run_name(public_fixture / "clue_acc") == public_fixture.name
    assert set(PROTOCOL_FOLDERS.values()) == {"long", "ref", "clue"}
    assert list(load_run(public_fixture / "clue_acc")) == ["clue"]


# ---------------------------------------------------------------- 1, 2, 3
def test_1_non_text_pred_without_protocol(tmp_path: Path, capsys) -> None:
    for pred in (5, None, True):
        path = tmp_path / "p.jsonl"
        path.write_text(_line(pred))
        data = _eval_json(capsys, "--predictions", str(path))
        assert data["long"]["n"] == 1 and data["long"]["parse_failures"] == 1


def test_2_huge_gt_or_answer_is_reported_not_a_crash(tmp_path: Path, capsys) -> None:
    path = tmp_path / "g.jsonl"
    path.write_text(_line("3", gt=10**200) + _line("5", ITEM | {"index": 1}))
    data = _eval_json(capsys, "--predictions", str(path), "--protocol", "long")
    assert data["long"]["n"] == 1 and data["meta"]["long"]["skipped_lines"] == 1
    assert any("not a count" in w for w in data["meta"]["long"]["warnings"])
    dataset = tmp_path / "d.json"
    dataset.write_text(json.dumps([ITEM | {"answer": 10**200}]))
    with pytest.raises(DatasetError, match="not a count"):
        load_dataset(dataset)
    # the same answer on a line's own input: that item is unreadable, the line's gt still scores
    path.write_text(_line("3", ITEM | {"answer": 10**200}, gt=3))
    assert _eval_json(capsys, "--predictions", str(path), "--protocol", "long")["long"]["acc"] == 100.0


def test_3_json_output_is_always_strict_json(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(_line("9" * 5000) + _line("1" + "0" * 400, ITEM | {"index": 1})
                    + _line("there are " + "9" * 320 + " things", ITEM | {"index": 2}, gt=10**12))
    data = _eval_json(capsys, "--predictions", str(path), "--protocol", "long", "--mode", "strict")
    assert all(isinstance(v, (int, float)) for v in data["long"]["per_item_abs_error"].values())
    clue = tmp_path / "c.jsonl"
    clue.write_text(_line('{"Frame1": [[0, 0, 1e400, 10]]}') + _line("[[NaN, Infinity]]", ITEM | {"index": 1, "category": "event", "clue": [{"start": 1, "end": 2}]}))
    data = _eval_json(capsys, "--predictions", str(clue), "--protocol", "clue")
    assert data["clue"]["n"] == 2


# ---------------------------------------------------------------- 4
def test_4_lone_surrogates_print_as_escapes(tmp_path: Path) -> None:
    item = {"index": 0, "category": "attribute", "answer": 1, "question_en": "how many \ud800?", "modality": "\udfff",
            "clue": [[{"timestamp": 1.0, "bbox": [0, 0, 10, 10]}]]}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"pred": '{"Frame1": [{"bbox": [0, 0, 10, 10], "label": "\\ud800"}]}', "gt": 1,
                                "input": item}) + "\nnot json \ud800\n".encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    for extra in ([], ["--json"], ["--explain", "0"], ["--by", "modality,question_en"]):
        proc = subprocess.run([sys.executable, "-m", "engine.cli", "eval", "--predictions", str(path), *extra],
                              capture_output=True, text=True, encoding="utf-8", errors="replace")
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


# ---------------------------------------------------------------- 5, 6, 7
@pytest.mark.parametrize("text", ["[" * 100_000, "[" + "1" * 5000 + "]", json.dumps([ITEM | {"clue": [
    {"timestamp": 1.0, "bbox": [0, 0, 10**400, 10]}]}])])
def test_5_dataset_loader_errors_are_dataset_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(text)
    with pytest.raises(DatasetError):
        load_dataset(path)


def test_6_odd_digit_file_names_sort(tmp_path: Path) -> None:
    folder = tmp_path / "clue_acc"
    folder.mkdir()
    for name, index in (("²", 0), ("10", 1), ("2", 2), ("٣", 3)):
        (folder / f"{name}.txt").write_text(_line("[]", ITEM | {"index": index}))
    pset = load_predictions(folder)
    assert [r.source.split(":")[0] for r in pset.records.values()] == ["2.txt", "10.txt", "².txt", "٣.txt"]


def _as_nobody(call) -> str:
    """Run `call()` in a forked child without root's powers; its outcome as text ('ok: ...' or the error)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            outcome = f"ok: {call()}"
        except BaseException as exc:  # noqa: BLE001 - the test inspects whatever escaped
            outcome = f"{type(exc).__name__}: {exc}"
        os.write(write, outcome.encode("utf-8", "replace"))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        outcome = handle.read().decode()
    os.waitpid(pid, 0)
    return outcome


@pytest.fixture()
def shared_tmp():
    """A folder that an unprivileged child can reach (pytest's own tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="avr-perm-"))
    folder.chmod(0o755)
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.chmod(0o755)
    subprocess.run(["rm", "-rf", str(folder)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="drops privileges from root to reproduce permission errors")
def test_7_unreadable_folders_and_files(shared_tmp: Path) -> None:
    run = shared_tmp / "run"
    for protocol in ("long_acc", "clue_acc"):
        (run / protocol).mkdir(parents=True)
        for i in range(2):
            (run / protocol / f"{i}.txt").write_text(_line("5" if protocol == "long_acc" else "[]", ITEM | {"index": i}))
    for path in [run, *run.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    run.chmod(0o644)  # no execute: the protocol folders cannot be reached
    outcome = _as_nobody(lambda: load_run(run))
    assert outcome.startswith("PredictionError") and "Permission denied" in outcome, outcome
    run.chmod(0o755)
    (run / "long_acc").chmod(0o311)  # cannot be listed
    outcome = _as_nobody(lambda: load_predictions(run / "long_acc"))
    assert outcome.startswith("PredictionError") and "cannot read" in outcome and "Permission denied" in outcome
    (run / "long_acc").chmod(0o755)
    (run / "clue_acc" / "1.txt").chmod(0o000)
    outcome = _as_nobody(lambda: evaluate_set(load_predictions(run / "clue_acc")).warnings)
    assert outcome.startswith("ok") and "1.txt: cannot read (Permission denied)" in outcome, outcome


# ---------------------------------------------------------------- 8
def _huge_answers(n: int = 5_000_000) -> list[str]:
    box = "[10, 20, 110, 220], "
    return ["<answer>" * (n // 8), "1" * (n - 2) + "a1", "[x]" * (n // 3), "[" * n, "[[x]]" * (n // 5),
            "[[[[x]]]]" * (n // 9), "[}" * (n // 2), "[1 2]" * (n // 5), '[["x" 1]]' * (n // 9), '{"Frame1": [' + box * (n // 20) + "[1, 2, 3, 4]]}",
            "[" + "[1.5, 2.5], " * (n // 12) + "[1, 2]]", "I count the things. " * (n // 20)] + _deep_answers(n)


def _deep_answers(n: int) -> list[str]:
    """Nesting deeper than the parser's regexes reach, in shapes that defeat its run handling."""
    distinct = "".join("[" * 9 + f"x{i}" + "]" * 9 for i in range(n // 24))
    kinds = "".join("".join("[{"[(i >> j) & 1] for j in range(10)) + "x" + "".join(
        "]}"[(i >> j) & 1] for j in reversed(range(10))) for i in range(n // 21))
    return [distinct, kinds, "[a" * (n // 4) + "]a" * (n // 4), "[" * (n // 2) + "]" * (n // 2),
            ("[" * 20 + "}") * (n // 21), ("[" * 9 + "]" * 8) * (n // 17), "[" * 20 + "[x]" * (n // 3) + "]" * 20,
            "".join(f'[["x{i}" "]"]' for i in range(n // 14)), "".join("[" * 10 + f'"a{i}":1' + "]" * 10 for i in range(n // 30)),
            "".join("[a" * 12 + f"x{i}" + "]a" * 3 + "}" for i in range(n // 38))]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_8_five_million_character_answers_finish() -> None:
    """A hang guard, not a timing: each used to take minutes to hours (quadratic scans)."""
    obj = load_dataset_item(ITEM | {"clue": [{"timestamp": 1.0, "bbox": [10, 20, 110, 220]}] * 2, "answer": 2})
    event = load_dataset_item({"index": 1, "category": "event", "answer": 1, "clue": [{"start": 1.0, "end": 2.0}]})
    for text in _huge_answers():
        for item in (obj, event):
            assert 0 <= score_clue(item, text, "strict").score <= 1
        assert score_count(obj, text, None, "strict").abs_error >= 0


def load_dataset_item(raw: dict):
    from engine.benchmark import item_from_json
    return item_from_json(raw)


def test_8_linear_parsers_keep_the_regex_semantics() -> None:
    assert extract_answer_text("a <answer> <answer> 3 </answer> b </answer>") == "<answer> 3"
    assert extract_answer_text("<answer>" * 5 + " 4") == "<answer>" * 5 + " 4"
    assert first_number("x2 2.5.1 -3.5 apples") == "-3.5" and first_number("2nd") == "2"
    assert first_number("1.2.3 and 7") == "7" and first_number("a-4") == "4" and first_number("²5 6") == "6"
    assert find_json('noise [x] {"a": [1, "]"]} [1]') == ([1], True)  # a string's bracket ends the block
    assert find_json('[["[]"]] tail') == ([["[]"]], True) and find_json("[1 2] [[3]]") == ([[3]], True)
    assert find_json("[{]}[2]") == ([2], True)
    assert parse_count("9" * 5000, "strict").value is None


# ---------------------------------------------------------------- 9
@pytest.mark.timeout(60)
def test_9_endless_file_is_read_with_a_bound(tmp_path: Path) -> None:
    # The child reports its own peak, VmHWM (ru_maxrss would carry the forking pytest process's RSS).
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (800 << 20, 800 << 20));"
            "from engine.cli import main; rc = main(['eval', '--predictions', '/dev/zero']);"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM'))); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 2 and "no end within" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert int(proc.stdout.split()[-1]) < 800 << 10


# ---------------------------------------------------------------- 10
def test_10_predictions_outside_the_dataset_are_counted_and_left_out(tmp_path: Path, capsys) -> None:
    dataset = tmp_path / "d.json"
    dataset.write_text(json.dumps([ITEM | {"index": i} for i in range(3)]))
    path = tmp_path / "p.jsonl"
    path.write_text("".join(_line("5", ITEM | {"index": i}) for i in (0, 1, 7, 8)))
    data = _eval_json(capsys, "--predictions", str(path), "--dataset", str(dataset))
    assert data["long"]["n"] == 2 and set(data["long"]["per_item_abs_error"]) == {"0", "1"}
    assert data["long"]["not_in_dataset"] == {"n": 2, "indices": [7, 8]}
    assert data["long"]["missing"] == {"n": 1, "indices": [2]}
    assert main(["eval", "--predictions", str(path), "--dataset", str(dataset), "--boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "not in dataset 2 (7, 8)" in out and "no prediction 1 (2)" in out


# ---------------------------------------------------------------- unanswered rows (avr infer)
def test_rows_with_an_error_are_unanswered_not_scored(tmp_path: Path, capsys) -> None:
    path = tmp_path / "run.jsonl"
    extra = {"backend": "x", "model": "m", "reasoning": "direct", "prompt_set": "p", "prompt_hash": "h", "seconds": 1.0}
    path.write_text(_line("5", **extra, error=None)
                    + _line(None, ITEM | {"index": 1}, **extra, error="worker crashed: CUDA out of memory")
                    + _line("", ITEM | {"index": 2}, **extra, error="timeout")
                    + _line("4", ITEM | {"index": 2}, **extra, error=None)  # a retry answered it
                    + _line("1", ITEM | {"index": 3}, **extra, error=""))
    data = _eval_json(capsys, "--predictions", str(path), "--protocol", "long")
    assert data["long"]["n"] == 3 and data["long"]["unanswered"] == {"n": 1, "indices": [1]}
    assert set(data["long"]["per_item_abs_error"]) == {"0", "2", "3"}
    assert main(["eval", "--predictions", str(path), "--protocol", "long", "--boot", "0"]) == 0
    assert "unanswered 1 (1)" in capsys.readouterr().out
    assert main(["eval", "--predictions", str(path), "--protocol", "long", "--explain", "1"]) == 0
    assert "unanswered by the model (worker crashed: CUDA out of memory)" in capsys.readouterr().out
    only_errors = tmp_path / "e.jsonl"
    only_errors.write_text(_line(None, error="no GPU"))
    assert _eval_json(capsys, "--predictions", str(only_errors), "--protocol", "clue")["clue"]["unanswered"]["n"] == 1


# ---------------------------------------------------------------- 11
@pytest.mark.slow
def test_11_synth_into_a_larger_earlier_benchmark_keeps_only_its_own_files(tmp_path: Path, capsys) -> None:
    from engine.synth import SynthConfig, generate_benchmark

    config = SynthConfig(videos=2, minutes=0.1, seed=4, width=160, height=90, with_predictions=True)
    generate_benchmark(tmp_path, config)
    part = tmp_path / "videos" / ".vid001.mp4.abc123.part"
    part.write_bytes(b"half a video")
    small = generate_benchmark(tmp_path, SynthConfig(**{**config.__dict__, "videos": 1}))
    assert not part.exists() and not (tmp_path / "videos" / "vid001.mp4").exists()
    run = small.predictions_dir / "oracle-direct"
    data = _eval_json(capsys, "--predictions", str(run), "--dataset", str(small.dataset_path))
    assert data["clue"]["n"] == len(small.items) and data["clue"]["not_in_dataset"]["n"] == 0
    assert len(list((run / "clue_acc").glob("*.txt"))) == len(small.items)


def test_8_long_prediction_lists_score_exactly_as_short_ones() -> None:
    """Frames with thousands of (GT, prediction) pairs take the array path: same numbers, bit for bit."""
    import math
    import random

    from engine.scoring import box_iou, interval_iou

    rng = random.Random(7)
    gt_boxes = [[rng.uniform(0, 500), rng.uniform(0, 500), rng.uniform(0, 500), rng.uniform(0, 500)] for _ in range(3)]
    preds = [[round(rng.uniform(0, 500), 1) for _ in range(4)] for _ in range(800)] + [list(b) for b in gt_boxes]
    item = load_dataset_item(ITEM | {"answer": 3, "clue": [{"timestamp": 2.0, "bbox": b} for b in gt_boxes]})
    score = score_clue(item, json.dumps({"Frame1": preds}))
    used_g, used_p, total = set(), set(), 0.0
    for _ in range(3):  # the rule as written: repeatedly the best unmatched pair, lowest indices on ties
        best = max((box_iou(gt_boxes[g], preds[p]), -g, -p) for g in range(3) for p in range(len(preds))
                   if g not in used_g and p not in used_p)
        total += best[0]
        used_g.add(-best[1])
        used_p.add(-best[2])
    frame = score.clusters[0].frames[0]
    assert frame.la == total / 3 and score.score == math.sqrt(total / 3 * max(0.0, 1 - abs(len(preds) - 3) / 3))
    assert [m.kind for m in frame.matches[:3]] == ["matched"] * 3 and len(frame.matches) == len(preds)

    gts = [(1.0, 4.0), (10.0, 12.5), (20.0, 21.0)]
    pairs = [sorted((round(rng.uniform(0, 30), 2), round(rng.uniform(0, 30), 2))) for _ in range(900)]
    event = load_dataset_item({"index": 1, "category": "event", "answer": 3, "clue": [{"start": s, "end": e} for s, e in gts]})
    got = score_clue(event, json.dumps(pairs))
    la = sum(max(interval_iou(g, p) for p in pairs) for g in gts) / 3
    assert got.clusters[0].frames[0].la == la > 0 and got.score == 0.0  # 900 intervals for 3: CAP < 0


def test_bulk_work_leaves_the_collector_as_it_found_it(public_fixture: Path) -> None:
    import gc

    assert gc.isenabled()
    evaluate_set(load_predictions(public_fixture / "clue_acc"))
    assert gc.isenabled()
    gc.disable()
    try:
        evaluate_set(load_predictions(public_fixture / "long_acc"))
        assert not gc.isenabled()
    finally:
        gc.enable()
