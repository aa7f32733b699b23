"""Engine tab with a big, growing run: redraw time and GUI-thread stall.

A writer process fills `metrics.jsonl` with 100k rows (5 stages of GRPO-shaped rows), then appends
50 rows a second and keeps `status.json`'s heartbeat fresh, while the Engine tab follows the folder
(its own 500 ms poll: only new bytes, incremental smoothing, downsampled curves). We report:

- first load: time until all 100k rows are drawn (read in 1 MiB slices between events);
- per poll while growing: GUI-thread CPU time of poll + redraw (median, max);
- GUI stall: the largest gap between ticks of a 5 ms timer, and the largest GUI-thread CPU burst;
- baseline, same run and file: re-reading and re-parsing the whole file and redrawing every curve
  from scratch on each poll (what a non-incremental reader does).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_engine_tab.py [--rows 100000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITER = r"""
import json, sys, time
root, rows, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
stages = ["sft", "grpo_qa", "grpo_grounding", "grpo_counting", "full_task"]
per = rows // len(stages)
def row(g):
    s = min(g // per, len(stages) - 1)
    return {"stage": stages[s], "step": g - s * per + 1, "global_step": g + 1, "time": "2026-01-01T00:00:00+00:00",
            "loss": 1.0 / (1 + g) + 0.01 * (g % 7), "reward": (g % 11) / 11, "reward_std": 0.3, "kl": 1e-4 * (g % 13),
            "rewards/format_reward/mean": (g % 5) / 5, "rewards/count_reward/mean": (g % 3) / 3,
            "rewards/format_reward/std": 0.1, "completions/mean_length": 20 + g % 17, "grad_norm": 1.0}
def status(state):
    st = [{"name": n, "kind": "grpo", "state": "running", "step": 1, "total_steps": per} for n in stages]
    open(root + "/status.json.tmp", "w").write(json.dumps({"state": state, "pid": __import__("os").getpid(),
         "heartbeat_unix": time.time(), "stages": st}))
    __import__("os").replace(root + "/status.json.tmp", root + "/status.json")
with open(root + "/metrics.jsonl", "w") as f:
    for g in range(rows):
        f.write(json.dumps(row(g)) + "\n")
status("running")
print("ready", flush=True)
g, start = rows, time.time()
with open(root + "/metrics.jsonl", "a") as f:
    while time.time() - start < seconds:
        for _ in range(int(rate / 10)):
            f.write(json.dumps(row(g)) + "\n"); g += 1
        f.flush(); status("running"); time.sleep(0.1)
status("done")
"""


def naive_reload(path: Path, curves) -> float:
    """The baseline: parse every line and rebuild every curve from scratch; GUI-thread seconds."""
    import numpy as np

    cpu = time.thread_time()
    series: dict[str, tuple[list, list]] = {}
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        for key, value in row.items():
            if key in ("loss", "kl", "completions/mean_length") or (key.startswith("rewards/") and key.endswith("/mean")):
                xs, ys = series.setdefault(key, ([], []))
                xs.append(row["global_step"])
                ys.append(value)
    for key, (xs, ys) in series.items():
        item = curves._items.get((next(iter(curves.runs)), key))
        if item is not None:
            item.setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    return time.thread_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from avr_studio.widgets.engine_tab import EngineTab

    app = QApplication.instance() or QApplication([])
    root = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(args.rows), str(args.rate),
                               str(args.seconds)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    size_mb = (root / "metrics.jsonl").stat().st_size / 1e6

    tab = EngineTab()
    tab.resize(1600, 1000)
    tab.show()
    costs: list[float] = []
    original_poll = tab.poll

    def timed_poll() -> None:
        cpu = time.thread_time()
        original_poll()
        costs.append(time.thread_time() - cpu)

    redraws: list[float] = []
    original_redraw = tab.curves.redraw

    def timed_redraw() -> None:
        cpu = time.thread_time()
        original_redraw()
        redraws.append(time.thread_time() - cpu)

    tab._redraw_soon.timeout.disconnect()
    tab._redraw_soon.timeout.connect(timed_redraw)
    tab.poll = timed_poll  # the timer and the backlog single-shots go through this
    tab.poll_timer.timeout.disconnect()
    tab.poll_timer.timeout.connect(timed_poll)
    gaps, busy, last = [0.0], [0.0], [time.perf_counter(), time.thread_time()]

    def tick() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append(now - last[0])
        busy.append(cpu - last[1])
        last[:] = [now, cpu]

    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(tick)
    start = time.perf_counter()
    tab.open_run(root)
    while tab.run.metric_rows < args.rows:
        QTest.qWait(5)
    first_load = time.perf_counter() - start
    load_polls = len(costs)
    load_max = max(costs)
    costs.clear()
    redraws.clear()
    last[:] = [time.perf_counter(), time.thread_time()]
    probe.start()
    while writer.poll() is None:
        QTest.qWait(20)
    QTest.qWait(1000)
    probe.stop()
    rows_end = tab.run.metric_rows
    drawn = tab.curves.drawn_points("loss")
    baseline = [naive_reload(root / "metrics.jsonl", tab.curves) for _ in range(3)]
    tab.shutdown()
    tab.deleteLater()
    app.processEvents()

    print(f"metrics.jsonl: {args.rows} rows ({size_mb:.1f} MB) growing by {args.rate:.0f} rows/s for "
          f"{args.seconds:.0f} s -> {rows_end} rows; loss curve holds {drawn} points")
    print(f"first load (all rows drawn): {first_load:.2f} s in {load_polls} slices, longest slice "
          f"{load_max * 1000:.0f} ms GUI CPU")
    print(f"{'':34}{'median':>10}{'max':>10}")
    print(f"{'incremental poll (ms CPU)':34}{statistics.median(costs) * 1000:>10.1f}{max(costs) * 1000:>10.1f}")
    print(f"{'curve redraw, 6 x 100k (ms CPU)':34}{statistics.median(redraws) * 1000:>10.1f}{max(redraws) * 1000:>10.1f}")
    print(f"{'baseline full re-read+redraw':34}{statistics.median(baseline) * 1000:>10.1f}{max(baseline) * 1000:>10.1f}")
    print(f"GUI stall while growing: max gap between 5 ms ticks {max(gaps) * 1000:.1f} ms, max GUI-thread CPU "
          f"burst {max(busy) * 1000:.1f} ms (limit 50 ms); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
