"""Official parity: our scorer reproduces the benchmark scripts' numbers on every fixture."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.predictions import load_predictions
from engine.scoring import evaluate_set
from tests.conftest import conformance_fixtures

FIXTURES = conformance_fixtures()


def _close(got: float, want: float, tol: float) -> bool:
    return math.isclose(got, want, rel_tol=0, abs_tol=tol)


@pytest.mark.skipif(not FIXTURES, reason="no conformance fixtures beside the repository")
@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.name for p in FIXTURES])
def test_long_protocol_matches_expected(fixture: Path) -> None:
    expected = json.loads((fixture / "expected.json").read_text())
    if "long" not in expected:
        pytest.skip("fixture has no long protocol")
    report = evaluate_set(load_predictions(fixture / "long_acc")).report
    want = expected["long"]
    assert report.n == want["n"]
    assert _close(report.acc, want["acc"], 1e-7)
    assert _close(report.oboa, want["oboa"], 1e-7)
    assert _close(report.mae, want["mae"], 1e-9)
    assert _close(report.rmse, want["rmse"], 1e-9)


@pytest.mark.skipif(not FIXTURES, reason="no conformance fixtures beside the repository")
@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.name for p in FIXTURES])
def test_clue_protocol_matches_expected_per_item(fixture: Path) -> None:
    expected = json.loads((fixture / "expected.json").read_text())["clue"]
    report = evaluate_set(load_predictions(fixture / "clue_acc")).report
    assert report.n == expected["n"]
    assert _close(report.wcs, expected["wcs"], 1e-7)
    assert _close(report.ifa, expected["ifa"], 1e-9)
    wrong = []
    for key, want in expected["per_item_wcs"].items():
        score = report.per_item[int(key)]
        got = None if score.failed else 100 * score.score
        if (got is None) != (want is None) or (got is not None and not _close(got, want, 1e-7)):
            wrong.append((key, got, want, score.reason))
    assert not wrong, f"{len(wrong)} items differ, first: {wrong[:3]}"


def test_cli_json_matches_expected(public_fixture: Path, capsys: pytest.CaptureFixture) -> None:
    from engine.cli import main

    assert main(["eval", "--predictions", str(public_fixture / "clue_acc"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["clue"]
    expected = json.loads((public_fixture / "expected.json").read_text())["clue"]
    assert _close(got["wcs"], expected["wcs"], 1e-7)
    assert got["per_item"] == pytest.approx(expected["per_item_wcs"], abs=1e-7)
