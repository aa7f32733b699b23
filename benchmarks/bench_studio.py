"""Studio item-switching benchmark: the real window driven by key presses (Ctrl+Down / Ctrl+Up, the
browser's next/previous item) over 100 switches across the demo's 4 videos, in the single-run and the
two-run compare view. Two figures per case, timed at the end of a paint (a probe records what the
player's view, the tree and the timeline showed when each was painted):

- shown: key press -> the new item's frame and its WCS tree (A|B tree) painted;
- settled: key press -> everything for the item drawn (timeline range, waveform, tiers, spectrogram
  when on, browser row) and nothing left deferred.

The baseline, measured in the same run, is what a plain viewer pays per switch for the frame alone:
open the item's video with cv2, seek to the clue, read (no scoring, tree, overlays or painting);
each figure's p95 is also given as a ratio to the baseline's. See docs/studio-performance.md.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_studio.py [--demo-dir DIR] [--switches 100] [--spectrogram] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_P95_MS = 100.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def build_window(demo, spectrogram: bool = False):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from avr_studio.style import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style(app)
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_studio.ini"), QSettings.Format.IniFormat)
    settings.setValue("view/spectrogram", spectrogram)
    window = MainWindow(settings=settings, audio_output=NullAudioOutput("Muted: benchmark"))
    window.resize(1600, 1000)
    window.show()
    window.open_dataset(demo.dataset)
    window.open_videos(demo.videos)
    for run in demo.runs:
        window.add_predictions(run)
    return app, window


class PaintProbe:
    """Records, for a few widgets, what each was showing when it was last painted and when that paint
    pass ended: a figure counts only once the new item is *painted*, not merely handed to a widget,
    and it is timed at the end of that paint, not when the polling loop next looks."""

    def __init__(self, window, widgets_and_states) -> None:
        from PySide6.QtCore import QEvent, QObject

        probe = self
        self.states = {id(w): state for w, state in widgets_and_states}
        self.painted: dict[int, tuple[object, float]] = {}  # id(widget) -> (state, end of its paint pass)
        self._in_pass: dict[int, object] = {}

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt override)
                kind = event.type()
                if kind == QEvent.Type.Paint and id(obj) in probe.states:
                    probe._in_pass[id(obj)] = probe.states[id(obj)]()
                elif kind == QEvent.Type.UpdateRequest and obj is window:
                    handled = obj.event(event)  # the window's paint pass, run here to time its end
                    probe.commit()
                    return handled
                return False

        self.filter = Filter()
        window.installEventFilter(self.filter)
        for widget, _state in widgets_and_states:
            widget.installEventFilter(self.filter)

    def commit(self) -> None:
        now = time.perf_counter()
        for key, state in self._in_pass.items():
            self.painted[key] = (state, now)
        self._in_pass.clear()

    def last(self, widget) -> tuple[object, float] | tuple[None, None]:
        return self.painted.get(id(widget), (None, None))


def make_probe(window) -> PaintProbe:
    timeline = window.timeline
    return PaintProbe(window, [
        (window.player.graphics.viewport(), lambda: window.player.presented),
        (window.wcs_panel.tree.viewport(), lambda: window.wcs_panel.title.text()),
        (window.compare_panel.tree.viewport(), lambda: window.compare_panel.title.text()),
        (timeline.graphics.viewport(), lambda: timeline.shown_index),
    ])


def _panel(window):
    return window.compare_panel if window.selection.compare_mode else window.wcs_panel


def shown_at(window, index: int, probe: PaintProbe) -> float | None:
    """When the item's frame (at the playhead) and its breakdown tree had both been painted; None
    while they have not."""
    probe.commit()  # a paint outside the window's paint pass (a direct repaint) ends by now
    player, item = window.player, window.session.item(index)
    frame = player.presented
    if frame is None or player.info is None or frame.path != window.session.video_path(item):
        return None
    if frame.index != player.info.frame_index_at(window.playhead.time):
        return None
    painted_frame, frame_time = probe.last(player.graphics.viewport())
    if painted_frame is not frame:
        return None
    panel = _panel(window)
    prefix = f"#{index} "
    painted_title, tree_time = probe.last(panel.tree.viewport())
    if not panel.title.text().startswith(prefix) or not str(painted_title or "").startswith(prefix):
        return None
    return max(frame_time, tree_time)


def settled_at(window, index: int, probe: PaintProbe) -> float | None:
    """When everything for the item was done and painted: frame and tree, the timeline's range,
    waveform and tiers, the browser's row, no deferred work left for the item. Timed when the
    polling loop sees it (after the paint that followed the last of that work: conservative)."""
    shown = shown_at(window, index, probe)
    drawn, _when = probe.last(window.timeline.graphics.viewport())
    if shown is None or drawn != index or not window.item_settled(index):
        return None
    return max(shown, time.perf_counter())


def switch_times(app, window, switches: int, seed: int) -> tuple[list[float], list[float]]:
    """Seconds from the key press to the new item shown, and to everything settled, per switch; a
    seeded random walk over the browser's rows (mostly forwards)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    rng = random.Random(seed)
    probe = make_probe(window)
    shown_times, settled_times = [], []
    table = window.browser.table
    table.setFocus()
    window.selection.select_item(window.session.items[0].index)
    settle(app, window, window.session.items[0].index, probe)
    rows = window.browser.proxy.rowCount()
    for _ in range(switches):
        row = table.currentIndex().row()
        down = row == 0 or (row < rows - 1 and rng.random() < 0.7)
        target_row = row + (1 if down else -1)
        target = window.browser.model.rows[window.browser.proxy.mapToSource(window.browser.proxy.index(target_row, 0)).row()].index
        start = time.perf_counter()
        QTest.keyClick(window, Qt.Key.Key_Down if down else Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        shown_times.append(wait_for(app, lambda t=target: shown_at(window, t, probe), start) - start)
        settled_times.append(wait_for(app, lambda t=target: settled_at(window, t, probe), start) - start)
        settle(app, window, target, probe, 0.02)  # a researcher looks before pressing again
    return shown_times, settled_times


def wait_for(app, moment, start: float) -> float:
    """Process events until `moment()` gives the time the awaited paint ended."""
    while True:
        app.processEvents()
        when = moment()
        if when is not None:
            return when
        if time.perf_counter() - start > 10:
            raise RuntimeError("not shown after 10 s")
        time.sleep(0.0005)


def settle(app, window, index: int, probe: PaintProbe, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or settled_at(window, index, probe) is None:
        app.processEvents()
        time.sleep(0.002)


def naive_switch_times(window, switches: int, seed: int) -> list[float]:
    """A plain viewer: cv2.VideoCapture open + seek + read of each item's first clue frame."""
    import cv2

    rng = random.Random(seed)
    items = window.session.items
    times = []
    for _ in range(switches):
        item = rng.choice(items)
        t = item.clue_times[0] if item.clue_times else 0.0
        start = time.perf_counter()
        capture = cv2.VideoCapture(str(window.session.video_path(item)))
        capture.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, _frame = capture.read()
        capture.release()
        if not ok:
            raise RuntimeError(f"cv2 could not read {item.video} at {t}")
        times.append(time.perf_counter() - start)
    return times


def stats(times: list[float]) -> dict:
    ms = [1000 * t for t in times]
    return {"median_ms": round(statistics.median(ms), 1), "p95_ms": round(percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1)}


def case(name: str, shown_times: list[float], settled_times: list[float] | None, baseline: dict | None) -> dict:
    row = {"case": name, "switches": len(shown_times), **stats(shown_times)}
    if settled_times is not None:
        row["settled"] = stats(settled_times)
    if baseline is not None:
        row["p95_vs_baseline"] = round(row["p95_ms"] / baseline["p95_ms"], 2)
        if settled_times is not None:
            row["settled"]["p95_vs_baseline"] = round(row["settled"]["p95_ms"] / baseline["p95_ms"], 2)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo-dir", type=Path, help="demo folder (default: AVR_DEMO_DIR or the user data dir)")
    parser.add_argument("--switches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--spectrogram", action="store_true", help="with the spectrogram tier on (off by default)")
    args = parser.parse_args(argv)
    from engine.demo import demo_dir, ensure_demo

    demo = ensure_demo(args.demo_dir or demo_dir())
    app, window = build_window(demo, args.spectrogram)
    try:
        single = switch_times(app, window, args.switches, args.seed)
        window.compare_runs(window.session.runs[0].name, window.session.runs[1].name)
        compare = switch_times(app, window, args.switches, args.seed + 1)
        baseline = stats(naive_switch_times(window, args.switches, args.seed))
        n_items, n_videos = len(window.session.items), len({i.video for i in window.session.items})
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
    rows = [case("single run", *single, baseline), case("compare A|B", *compare, baseline),
            {"case": "baseline: cv2 open+seek+read (frame only)", "switches": args.switches, **baseline}]
    if args.json:
        print(json.dumps({"items": n_items, "videos": n_videos, "spectrogram": args.spectrogram,
                          "target_p95_ms": TARGET_P95_MS, "cases": rows}, indent=1))
        return 0
    tier = ", spectrogram tier on" if args.spectrogram else ""
    print(f"item switch over {args.switches} key presses ({n_items} items, {n_videos} videos{tier}); "
          f"target p95 < {TARGET_P95_MS:g} ms")
    print("shown: key press -> new frame and WCS tree painted;  settled: -> timeline tiers, browser row and")
    print("everything else for the item painted, nothing left deferred.  x base: p95 / the cv2 baseline's p95")
    print(f"{'case':42} {'median':>7} {'p95':>7} {'max':>7} {'x base':>7}")
    for row in rows[:2]:
        for label, figures in ((f"{row['case']}: shown", row), (f"{row['case']}: settled", row["settled"])):
            print(f"{label:42} {figures['median_ms']:7.1f} {figures['p95_ms']:7.1f} {figures['max_ms']:7.1f} "
                  f"{figures['p95_vs_baseline']:6.2f}x")
    base = rows[2]
    print(f"{base['case']:42} {base['median_ms']:7.1f} {base['p95_ms']:7.1f} {base['max_ms']:7.1f} {1:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
