"""engine.progress in a log (not a terminal): one line per whole 10%, with counts and messages."""

from __future__ import annotations

import io

from engine.progress import ProgressBar


def test_log_output_is_one_line_per_tenth():
    stream = io.StringIO()
    with ProgressBar("infer", total=40, stream=stream) as bar:
        for done in range(1, 41):
            bar.update(done, f"item {done}")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11  # the first item, then each whole tenth
    assert lines[:2] == ["infer:   2.5% 1/40 item 1", "infer:  10.0% 4/40 item 4"]
    assert lines[-1] == "infer: 100.0% 40/40 item 40"


def test_fraction_callback_reports_new_stages():
    stream = io.StringIO()
    with ProgressBar("synth", stream=stream) as bar:
        report = bar.fraction_callback()
        report("planning scenes", 0.0)
        report("rendering a.mp4 (1/2)", 0.01)
        report("rendering a.mp4 (1/2)", 0.02)
        report("rendering b.mp4 (2/2)", 0.5)
        report("done", 1.0)
    assert stream.getvalue().splitlines() == [
        "synth:   0.0% planning scenes", "synth:   1.0% rendering a.mp4 (1/2)",
        "synth:  50.0% rendering b.mp4 (2/2)", "synth: 100.0% done"]
