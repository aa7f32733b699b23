"""The weight-free baseline: real answers in every protocol's format, above the best constant
answer on a synth seed it was not developed on, and nothing taken from the generator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.backends.base import create_backend
from engine.backends.inputs import InputOptions, RequestBuilder
from engine.backends.prompts import load_prompt_set
from engine.parsing import parse_count
from engine.scoring import evaluate_clue, evaluate_long, score_clue

BASELINE_SOURCES = [Path("engine/backends/baseline.py"), Path("engine/backends/signals.py")]


@pytest.fixture(scope="module")
def answers(tiny_bench, tiny_items):
    """{(protocol, reasoning): [text per item]} from one backend instance."""
    backend = create_backend("baseline")
    out = {}
    for protocol in ("long", "clue"):
        for reasoning in ("direct", "thinking"):
            builder = RequestBuilder(load_prompt_set("official"), tiny_bench.videos, protocol, reasoning,
                                     InputOptions())
            out[protocol, reasoning] = ["".join(backend.generate(builder.build(item))) for item in tiny_items]
    backend.close()
    return out


def _best_constant_acc(items) -> float:
    return max(evaluate_long([(i, str(c), i.answer) for i in items]).acc for c in range(21))


def test_counts_beat_the_best_constant(tiny_items, answers):
    report = evaluate_long(zip(tiny_items, answers["long", "direct"], [i.answer for i in tiny_items], strict=True))
    assert report.parse_failures == 0
    assert report.acc > _best_constant_acc(tiny_items)  # 14 items; bench_baseline.py measures 42
    thinking = [parse_count(text, "strict").value for text in answers["long", "thinking"]]
    assert thinking == [parse_count(text).value for text in answers["long", "direct"]]
    assert all(text.startswith("<think>") and text.endswith("</answer>") for text in answers["long", "thinking"])


def test_clue_answers_parse_and_ground(tiny_items, answers):
    for reasoning in ("direct", "thinking"):
        report = evaluate_clue(zip(tiny_items, answers["clue", reasoning], strict=True))
        assert report.ifa == 1.0
        assert report.wcs > 50  # constant answers score under 10 on these items (bench_baseline.py)
    for item, text in zip(tiny_items, answers["clue", "direct"], strict=True):
        score = score_clue(item, text)
        assert not score.failed, (item.index, score.reason)


def test_baseline_takes_nothing_from_the_generator():
    repo = Path(__file__).resolve().parents[3]
    for source in BASELINE_SOURCES:
        assert "synth" not in (repo / source).read_text()
    probe = ("import sys; import engine.backends.baseline; "
             "print(sorted(m for m in sys.modules if m.startswith('engine.synth')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
