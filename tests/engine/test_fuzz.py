"""Fuzzing the scorer with mutated rows of the public fixture (issue 7).

Each example takes a slice of the fixture's real prediction lines, mutates one of them (its
structure, its numbers, its text, or the raw line), appends it, and runs what `avr eval` runs, in
process: load -> score -> `--json` / tables / `--explain`. Only our own errors may escape, JSON
output parses with a strict parser, every aggregate is finite, and no other row's score moves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import UserError
from engine.parsing import extract_answer_text
from engine.predictions import load_predictions
from engine.report import render_item, render_json, render_tables
from engine.scoring import Evaluation, evaluate_set

ROWS_PER_PROTOCOL = 40
#: Examples per protocol: about half a minute of CPU each on a 2-core machine.
EXAMPLES = 1000
EXTREME_NUMBERS = [0, -1, 1, -0.0, 0.5, 2**31, 2**63, 10**20, 10**200, -(10**200), 10**999, 1e-320, 1e308, -1e308,
                   float("nan"), float("inf"), float("-inf")]
TOKENS = ["\ud800", "\udfff", "<answer>", "</answer>", "<think>", "[", "]", "{", "}", '"', ",", ":", "Frame", "Frame 1",
          "bbox", "label", "-", ".", "e999", "9" * 400, "²", "٣", "\x00", "\n", " ", "NaN", "Infinity", "null", "1e400"]

FIELDS = ["index", "category", "answer", "clue", "modality", "question_en", "query_interval", "pred", "gt", "input",
          "error"]

json_values = st.recursive(
    st.none() | st.booleans() | st.sampled_from(EXTREME_NUMBERS) | st.integers() | st.floats()
    | st.text(max_size=12) | st.sampled_from(TOKENS),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6) | st.sampled_from(
        ["Frame1", "Frame 2", "bbox", "bbox_2d", "label", "start", "end", "timestamp", "index", "category"]),
        children, max_size=5),
    max_leaves=12,
)
paths = st.lists(st.integers(min_value=0, max_value=1000), max_size=6)


def _rows(fixture: Path, protocol: str) -> list[str]:
    folder = fixture / f"{protocol}_acc"
    files = sorted(folder.glob("*.txt"), key=lambda p: int(p.stem))[:: 400 // ROWS_PER_PROTOCOL]
    return [f.read_text(encoding="utf-8").splitlines()[0] for f in files]


MODES = ("official", "strict")


@pytest.fixture(scope="module")
def baseline(public_fixture: Path, tmp_path_factory) -> dict:
    """Per protocol: the row slice, and per mode each item's score when nothing is mutated."""
    out = {}
    folder = tmp_path_factory.mktemp("fuzz-base")
    for protocol in ("long", "clue"):
        rows = _rows(public_fixture, protocol)
        path = folder / f"{protocol}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        pset = load_predictions(path, protocol)
        scores = {mode: {i: _score_key(s) for i, s in evaluate_set(pset, None, mode).report.per_item.items()}
                  for mode in MODES}
        out[protocol] = (rows, scores)
    return out


def _score_key(score) -> tuple:
    if hasattr(score, "abs_error"):
        return (score.count, score.abs_error, score.mae_term, score.mse_term)
    return (score.score, score.failed)


# ---------------------------------------------------------------- mutations
def _walk(value, path: list[int]):
    """(container, key) of the node a path of choices leads to; None when the root itself is hit."""
    parent, key = None, None
    for step in path:
        if isinstance(value, dict) and value:
            k = list(value)[step % len(value)]
        elif isinstance(value, list) and value:
            k = step % len(value)
        else:
            break
        parent, key, value = value, k, value[k]
    return parent, key


def _replace(obj, path: list[int], new):
    parent, key = _walk(obj, path)
    if parent is None:
        return new
    parent[key] = new
    return obj


def _delete(obj, path: list[int]):
    parent, key = _walk(obj, path)
    if parent is not None:
        del parent[key]
    return obj


def _numbers(value, new):
    """Every number in the value replaced by `new` (bools stay)."""
    if isinstance(value, dict):
        return {k: _numbers(v, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v, new) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return new
    return value


def _answer_geometry(pred) -> object | None:
    if not isinstance(pred, str):
        return None
    try:
        return json.loads(extract_answer_text(pred))
    except ValueError:
        return None


@st.composite
def mutated_line(draw, rows: list[str]) -> tuple[int, str]:
    """(position of the row it came from, the mutated line)."""
    position = draw(st.integers(0, len(rows) - 1))
    obj = json.loads(rows[position])
    kind = draw(st.sampled_from(["field", "replace", "delete", "numbers", "answer_structure", "answer_numbers", "text",
                                 "raw"]))
    if kind == "field":
        target = obj["input"] if draw(st.booleans()) else obj
        target[draw(st.sampled_from(FIELDS))] = draw(st.sampled_from(TOKENS + EXTREME_NUMBERS) | json_values)
    elif kind == "replace":
        obj = _replace(obj, draw(paths), draw(json_values))
    elif kind == "delete":
        obj = _delete(obj, draw(paths))
    elif kind == "numbers":
        parent, key = _walk(obj, draw(paths))
        new = draw(st.sampled_from(EXTREME_NUMBERS))
        if parent is None:
            obj = _numbers(obj, new)
        else:
            parent[key] = _numbers(parent[key], new)
    elif kind in ("answer_structure", "answer_numbers"):
        geometry = _answer_geometry(obj.get("pred"))
        if geometry is not None:
            if kind == "answer_structure":
                geometry = _replace(geometry, draw(paths), draw(json_values))
            else:
                geometry = _numbers(geometry, draw(st.sampled_from(EXTREME_NUMBERS)))
            obj["pred"] = draw(st.sampled_from(["{}", "<answer>{}</answer>", "see {} ok", "<think>[</think>{}"])).format(
                "{}").replace("{}", json.dumps(geometry))
    elif kind == "text":
        pred = obj.get("pred") if isinstance(obj.get("pred"), str) else ""
        cut = draw(st.integers(0, len(pred)))
        insert = "".join(draw(st.lists(st.sampled_from(TOKENS) | st.text(max_size=4), max_size=6)))
        obj["pred"] = pred[:cut] + insert * draw(st.sampled_from([1, 1, 2, 50])) + pred[cut:]
    try:
        line = json.dumps(obj)
    except ValueError:  # an integer too long to write: write the row unmutated
        line = rows[position]
    if kind == "raw":
        cut = draw(st.integers(0, len(line)))
        line = line[:cut] + draw(st.sampled_from(TOKENS) | st.text(max_size=6)) + line[cut + draw(st.integers(0, 3)):]
    return position, line.replace("\n", " ")


# ---------------------------------------------------------------- the properties
def _strict_json(text: str) -> dict:
    def refuse(token: str):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=refuse)


def _check_outputs(ev: Evaluation) -> None:
    report = ev.report
    numbers = [report.wcs, report.ifa] if ev.pset.protocol == "clue" else [report.acc, report.oboa, report.mae, report.rmse]
    assert all(math.isfinite(v) for v in numbers), numbers
    data = _strict_json(render_json([ev]))
    assert data[ev.pset.protocol]["n"] == report.n
    tables = render_tables([ev], ["category", "modality", "question_en"], n_boot=20)
    tables.encode("utf-8", "backslashreplace")
    for index in list(report.per_item)[-3:]:
        render_item(ev, index).encode("utf-8", "backslashreplace")


def _run(tmp: Path, protocol: str, rows: list[str], line: str, mode: str, detect: bool) -> Evaluation | None:
    """Score the rows plus the mutated line; the protocol given, or detected as `avr eval` does."""
    path = tmp / "fuzz.jsonl"
    path.write_text("\n".join(rows) + "\n" + line + "\n", encoding="utf-8", errors="surrogatepass")
    try:
        pset = load_predictions(path, None if detect else protocol)
    except UserError:
        return None
    assert pset.protocol == protocol
    return evaluate_set(pset, None, mode)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["clue", "long"])
def test_mutated_rows_only_raise_our_errors_and_touch_only_themselves(baseline, tmp_path_factory, protocol) -> None:
    rows, scores = baseline[protocol]
    tmp = tmp_path_factory.mktemp(f"fuzz-{protocol}")

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated_line(rows), st.sampled_from(MODES), st.booleans())
    def check(mutation: tuple[int, str], mode: str, detect: bool) -> None:
        position, line = mutation
        ev = _run(tmp, protocol, rows, line, mode, detect)
        if ev is None:
            return
        _check_outputs(ev)
        own = json.loads(rows[position])["input"]["index"]
        before = scores[mode]
        after = {i: _score_key(s) for i, s in ev.report.per_item.items()}
        others = set(before) - {own}
        assert others <= set(after), f"rows lost: {sorted(others - set(after))[:5]}"
        moved = sorted(i for i in others if not _same(after[i], before[i]))
        assert not moved, f"other rows changed: {moved[:5]}"

    check()


def _same(a: tuple, b: tuple) -> bool:
    return all(x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(a, b, strict=True))
