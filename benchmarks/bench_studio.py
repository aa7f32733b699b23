"""Studio item-switching benchmark: the real window driven by key presses (Ctrl+Down / Ctrl+Up, the
browser's next/previous item), timed from the key press to the new item's frame on screen and its
WCS tree filled, over 100 switches across the demo's 4 videos, in the single-run and the two-run
compare view. The baseline, measured in the same run, is what a plain viewer pays per switch on the
same frames: open the item's video with cv2 and seek to the clue (no scoring, tree or overlays).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_studio.py [--demo-dir DIR] [--switches 100] [--json]
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


def build_window(demo):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from avr_studio.style import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style(app)
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_studio.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, audio_output=NullAudioOutput("Muted: benchmark"))
    window.resize(1600, 1000)
    window.show()
    window.open_dataset(demo.dataset)
    window.open_videos(demo.videos)
    for run in demo.runs:
        window.add_predictions(run)
    return app, window


def shown(window, index: int) -> bool:
    """The item's frame (at the playhead) is on screen and its breakdown tree is filled."""
    player, item = window.player, window.session.item(index)
    frame = player.presented
    if frame is None or player.info is None or frame.path != window.session.video_path(item):
        return False
    if frame.index != player.info.frame_index_at(window.playhead.time):
        return False
    panel = window.compare_panel if window.selection.compare_mode else window.wcs_panel
    title = panel.title.text()
    return title.startswith(f"#{index} ")


def switch_times(app, window, switches: int, seed: int) -> list[float]:
    """Seconds from the key press to the new item shown, per switch; a random walk over the rows."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    rng = random.Random(seed)
    times = []
    table = window.browser.table
    table.setFocus()
    window.selection.select_item(window.session.items[0].index)
    settle(app, window, window.session.items[0].index)
    rows = window.browser.proxy.rowCount()
    for _ in range(switches):
        row = table.currentIndex().row()
        down = row == 0 or (row < rows - 1 and rng.random() < 0.7)
        target_row = row + (1 if down else -1)
        target = window.browser.model.rows[window.browser.proxy.mapToSource(window.browser.proxy.index(target_row, 0)).row()].index
        start = time.perf_counter()
        QTest.keyClick(window, Qt.Key.Key_Down if down else Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
        wait_shown(app, window, target, start)
        times.append(time.perf_counter() - start)
        settle(app, window, target, 0.02)  # a researcher looks before pressing again
    return times


def wait_shown(app, window, target: int, start: float) -> None:
    """Process events until the target is shown; checked only when a new frame arrived (cheap polling
    that leaves the CPU to the decoder)."""
    checked = object()
    while True:
        app.processEvents()
        frame = window.player.presented
        if frame is not checked:
            checked = frame
            if shown(window, target):
                return
        if time.perf_counter() - start > 10:
            raise RuntimeError(f"item {target} not shown after 10 s")
        time.sleep(0.0005)


def settle(app, window, index: int, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or not shown(window, index):
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


def summary(name: str, times: list[float]) -> dict:
    ms = [1000 * t for t in times]
    return {"case": name, "switches": len(ms), "median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(percentile(ms, 95), 1), "max_ms": round(max(ms), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--demo-dir", type=Path, help="demo folder (default: AVR_DEMO_DIR or the user data dir)")
    parser.add_argument("--switches", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from engine.demo import demo_dir, ensure_demo

    demo = ensure_demo(args.demo_dir or demo_dir())
    app, window = build_window(demo)
    rows = []
    try:
        rows.append(summary("single run", switch_times(app, window, args.switches, args.seed)))
        window.compare_runs(window.session.runs[0].name, window.session.runs[1].name)
        rows.append(summary("compare A|B", switch_times(app, window, args.switches, args.seed + 1)))
        rows.append(summary("baseline: cv2 open+seek (frame only)", naive_switch_times(window, args.switches, args.seed)))
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"item switch, key press -> new frame and WCS tree shown ({len(window.session.items)} items, "
          f"{len({i.video for i in window.session.items})} videos); target p95 < {TARGET_P95_MS:g} ms")
    print(f"{'case':40} {'median':>8} {'p95':>8} {'max':>8}")
    for row in rows:
        print(f"{row['case']:40} {row['median_ms']:8.1f} {row['p95_ms']:8.1f} {row['max_ms']:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
