"""`avr eval` end to end: tables, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.cli import main


def test_eval_tables_and_json(public_fixture: Path, capsys) -> None:
    assert main(["eval", "--predictions", str(public_fixture), "--boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "long protocol" in out and "clue protocol" in out and "attribute" in out
    assert main(["eval", "--predictions", str(public_fixture), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"long", "clue"}
    assert set(data["long"]) >= {"acc", "oboa", "mae", "rmse", "n"}


def test_eval_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "d.json"
    bad.write_text("[1, 2]")
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"pred": "1", "gt": 1, "input": {"index": 0}}\n')
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "eval", "--predictions", str(preds), "--dataset", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "item #0" in proc.stderr and "Traceback" not in proc.stderr


def test_eval_imports_nothing_heavy(public_fixture: Path) -> None:
    code = ("import sys; from engine.cli import main; main(['eval', '--predictions', sys.argv[1], '--json']);"
            "heavy = [m for m in ('torch', 'transformers', 'PySide6', 'pyqtgraph', 'cv2', 'av') if m in sys.modules];"
            "print(heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(public_fixture / "clue_acc")], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "[]"
