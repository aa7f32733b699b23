"""`engine.compare` and `avr compare`: paired differences, bootstrap CIs, exact McNemar, unpaired items."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.stats import binomtest

from engine.benchmark import items_from_json
from engine.cli import main
from engine.compare import compare_reports, exact_mcnemar, looks_thinking
from engine.scoring import evaluate_long
from engine.testing import count_answer, random_item


def _strict_json(text: str) -> dict:
    def refuse(name: str):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 1), (1, 9), (5, 5), (3, 17), (40, 60), (0, 30), (700, 800)])
def test_exact_mcnemar_matches_scipy_binomial_test(a_only: int, b_only: int) -> None:
    expected = binomtest(min(a_only, b_only), a_only + b_only, 0.5).pvalue
    assert exact_mcnemar(a_only, b_only) == pytest.approx(expected, rel=1e-9)


def _jsonl(path: Path, items, preds: dict[int, str]) -> Path:
    lines = [json.dumps({"pred": preds[i.index], "gt": i.answer, "input": i.raw}) for i in items if i.index in preds]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two long-protocol runs on 60 random items; A lacks items 0-2, B lacks 57-59."""
    rng = random.Random(3)
    items = items_from_json([random_item(rng, i, rng.randint(1, 6)) for i in range(60)])
    preds_a = {i.index: count_answer(i, rng) for i in items if i.index >= 3}
    preds_b = {i.index: (str(i.answer) if rng.random() < 0.7 else str(i.answer + 2)) for i in items if i.index < 57}
    folder = tmp_path_factory.mktemp("compare")
    dataset = folder / "dataset.json"
    dataset.write_text(json.dumps([i.raw for i in items]))
    return items, preds_a, preds_b, _jsonl(folder / "a.jsonl", items, preds_a), _jsonl(folder / "b.jsonl", items, preds_b), dataset


def test_paired_difference_equals_difference_on_common_items(two_runs) -> None:
    items, preds_a, preds_b, *_ = two_runs
    by_index = {i.index: i for i in items}
    report_a = evaluate_long((by_index[i], p, by_index[i].answer) for i, p in preds_a.items())
    report_b = evaluate_long((by_index[i], p, by_index[i].answer) for i, p in preds_b.items())
    result = compare_reports("long", report_a, report_b, by_index, n_boot=400, seed=1)
    common = [i for i in preds_a if i in preds_b]
    paired_a = evaluate_long((by_index[i], preds_a[i], by_index[i].answer) for i in common)
    paired_b = evaluate_long((by_index[i], preds_b[i], by_index[i].answer) for i in common)
    assert result.overall.n == len(common) == 54
    assert result.only_a == (57, 58, 59) and result.only_b == (0, 1, 2)
    for metric in ("acc", "oboa", "mae", "rmse"):
        m = result.overall.metric(metric)
        assert m.a == pytest.approx(getattr(paired_a, metric)) and m.b == pytest.approx(getattr(paired_b, metric))
        assert m.diff == pytest.approx(m.b - m.a)
        assert m.ci_low <= m.diff <= m.ci_high and m.ci_low < m.ci_high
    discordant = result.overall.mcnemar
    right_a = {i for i in common if paired_a.per_item[i].correct}
    right_b = {i for i in common if paired_b.per_item[i].correct}
    assert (discordant.a_only_right, discordant.b_only_right) == (len(right_a - right_b), len(right_b - right_a))
    assert {s.name for s in result.groups["category"]} == {by_index[i].category for i in common}
    assert sum(s.n for s in result.groups["category"]) == len(common)


def test_bootstrap_is_seeded_and_paired(two_runs) -> None:
    items, preds_a, _, *_ = two_runs
    by_index = {i.index: i for i in items}
    report = evaluate_long((by_index[i], p, by_index[i].answer) for i, p in preds_a.items())
    same = compare_reports("long", report, report, by_index, n_boot=200, seed=5).overall.metric("acc")
    assert (same.diff, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)  # paired: identical runs never differ
    other_b = {i: str(by_index[i].answer) for i in preds_a}
    report_b = evaluate_long((by_index[i], p, by_index[i].answer) for i, p in other_b.items())
    first = compare_reports("long", report, report_b, by_index, n_boot=200, seed=5).overall.metric("mae")
    again = compare_reports("long", report, report_b, by_index, n_boot=200, seed=5).overall.metric("mae")
    other = compare_reports("long", report, report_b, by_index, n_boot=200, seed=6).overall.metric("mae")
    assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high) != (other.ci_low, other.ci_high)


def test_avr_compare_json_is_strict_and_complete(two_runs, capsys) -> None:
    *_, path_a, path_b, dataset = two_runs
    assert main(["compare", str(path_a), str(path_b), "--dataset", str(dataset), "--json", "--boot", "100",
                 "--seed", "7"]) == 0
    data = _strict_json(capsys.readouterr().out)
    assert data["bootstrap"] == {"resamples": 100, "seed": 7, "ci": 95, "paired": True}
    long = data["protocols"]["long"]
    assert long["n_paired"] == 54 and long["only_a"] == [57, 58, 59] and long["only_b"] == [0, 1, 2]
    acc = long["metrics"]["acc"]
    assert acc["diff"] == pytest.approx(acc["b"] - acc["a"]) and acc["ci95"][0] <= acc["diff"] <= acc["ci95"][1]
    assert set(long["acc_discordant"]) == {"a_right_b_wrong", "b_right_a_wrong", "mcnemar_exact_p"}
    assert set(long["groups"]["category"]) <= {"event", "object", "attribute"}


def test_avr_compare_tables_and_thinking_note(two_runs, tmp_path, capsys) -> None:
    items, preds_a, *_ = two_runs
    tagged = _jsonl(tmp_path / "thinking.jsonl", items, {i: f"<think>hm</think><answer>{p}</answer>" for i, p in preds_a.items()})
    plain = _jsonl(tmp_path / "direct.jsonl", items, preds_a)
    assert main(["compare", str(plain), str(tagged), "--boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "paired bootstrap 95% CI (50 resamples, seed 0)" in out and "exact McNemar p" in out
    assert "thinking" in out and "note:" in out and "--mode strict" in out
    assert main(["compare", str(plain), str(tagged), "--boot", "50", "--mode", "strict", "--json"]) == 0
    data = _strict_json(capsys.readouterr().out)
    assert data["thinking_runs"] == ["thinking"] and data["note"] is None
    assert data["protocols"]["long"]["metrics"]["acc"]["diff"] == 0.0  # strict reads the tags: same counts


def test_looks_thinking_needs_most_answers_tagged() -> None:
    assert looks_thinking(["<answer>3</answer>", "<answer>2</answer>", "4"])
    assert not looks_thinking(["<answer>3</answer>", "2", "4", 5])
    assert not looks_thinking([])


def test_avr_compare_user_errors_exit_2(two_runs, tmp_path) -> None:
    *_, path_a, _, _ = two_runs
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "compare", str(path_a), str(tmp_path / "missing")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    clue = tmp_path / "clue.jsonl"
    clue.write_text('{"pred": "[[1, 2]]", "gt": 1, "input": {"index": 0, "category": "event", "answer": 1, '
                    '"clue": [{"start": 1, "end": 2}]}}\n')
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "compare", str(path_a), str(clue)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "share no protocol" in proc.stderr


def test_public_fixture_compared_with_itself_has_zero_differences(public_fixture: Path, capsys) -> None:
    assert main(["compare", str(public_fixture), str(public_fixture), "--json", "--boot", "20"]) == 0
    data = _strict_json(capsys.readouterr().out)
    assert set(data["protocols"]) == {"long", "clue"}
    for protocol in data["protocols"].values():
        assert protocol["only_a"] == protocol["only_b"] == []
        assert all(m["diff"] == 0 and m["ci95"] == [0, 0] for m in protocol["metrics"].values())
