"""Media-layer benchmark: engine.media against a naive cv2.VideoCapture seek, in the same run.

Generates (or reuses, with --workdir) a 10-minute 1280x720 25 fps H.264+AAC file, a
variable-frame-rate 720p file with 250-frame keyframe intervals and a small 640x360 30 fps
file with 250-frame keyframe intervals (where a fixed per-seek cost shows most). Every frame shows its
own index as 16 black/white blocks, so frame accuracy is measured, not assumed.

    .venv/bin/python benchmarks/bench_media.py --workdir /tmp/avr-bench [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media import EnvelopePyramid, load_envelope, open_video  # noqa: E402
from engine.media.index_code import draw_index, read_index  # noqa: E402
from engine.media.writer import VideoWriter  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 25.0
AUDIO_RATE = 16000
BLOCK = 64
SEED = 11
SMALL_SIZE, SMALL_FPS, SMALL_SECONDS = (640, 360), 30, 180


@dataclass
class Row:
    metric: str
    ours: str
    naive: str
    target: str
    met: str


# ----- test media -----------------------------------------------------------------------------


def code_frame(index: int, background: np.ndarray) -> np.ndarray:
    """A moving gradient with the frame index drawn as 16 big black/white blocks."""
    return draw_index(np.roll(background, shift=(index * 7) % background.shape[1], axis=1), index, BLOCK)


def read_code(rgb_or_bgr: np.ndarray) -> int:
    return read_index(rgb_or_bgr, BLOCK)


def gradient_background(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    background = np.empty((height, width, 3), dtype=np.uint8)
    background[..., 0] = x[None, :].astype(np.uint8)
    background[..., 1] = ((x[None, :] + y) / 2).astype(np.uint8)
    background[..., 2] = np.broadcast_to(y, (height, width)).astype(np.uint8)
    return background


def write_test_video(
    path: Path, times: np.ndarray, gop: int | None, with_audio: bool,
    size: tuple[int, int] = (WIDTH, HEIGHT), fps: float = FPS,
) -> None:
    background = gradient_background(*size)
    with VideoWriter(path, size, fps, audio_rate=AUDIO_RATE if with_audio else None, gop=gop) as writer:
        audio_done = 0
        for index, seconds in enumerate(times):
            writer.add_frame(code_frame(index, background), pts_seconds=float(seconds))
            if with_audio:
                until = round((seconds + 1 / fps) * AUDIO_RATE)
                t = np.arange(audio_done, until) / AUDIO_RATE
                writer.add_audio((0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(t))).astype(np.float32) / 2)
                audio_done = until


def ensure_videos(workdir: Path, minutes: float) -> tuple[Path, Path, np.ndarray]:
    cfr = workdir / f"cfr_{minutes:g}min_720p.mp4"
    vfr = workdir / "vfr_720p_gop250.mp4"
    vfr_times = np.round(np.cumsum(np.random.default_rng(SEED).uniform(0.01, 0.08, size=3000)), 3)
    for path, times, gop, audio in [
        (cfr, np.arange(round(minutes * 60 * FPS)) / FPS, None, True),
        (vfr, vfr_times, 250, False),
    ]:
        generate_once(path, lambda p=path, t=times, g=gop, a=audio: write_test_video(p, t, g, a), len(times))
    return cfr, vfr, vfr_times


def ensure_small_video(workdir: Path) -> tuple[Path, np.ndarray]:
    """The shape where a fixed per-seek cost shows: 640x360, 30 fps, 250-frame GOP, 3 minutes."""
    path = workdir / "small_360p_30fps_gop250.mp4"
    times = np.arange(SMALL_SECONDS * SMALL_FPS) / SMALL_FPS
    generate_once(path, lambda: write_test_video(path, times, 250, False, SMALL_SIZE, SMALL_FPS), len(times))
    return path, times


def generate_once(path: Path, write: Callable[[], None], frames: int) -> None:
    if not path.exists():
        started = time.perf_counter()
        print(f"generating {path.name} ({frames} frames)...", file=sys.stderr, flush=True)
        write()
        print(f"  done in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)


# ----- measuring ------------------------------------------------------------------------------


def timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000.0, result


def ms_stats(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), float(np.percentile(samples, 95))


class NaiveCapture:
    """The obvious OpenCV approach: set CAP_PROP_POS_MSEC, read, convert BGR to RGB."""

    def __init__(self, path: Path) -> None:
        self.capture = cv2.VideoCapture(str(path))

    def frame_at(self, seconds: float) -> np.ndarray:
        self.capture.set(cv2.CAP_PROP_POS_MSEC, seconds * 1000.0)
        ok, bgr = self.capture.read()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else np.zeros((BLOCK * 2, BLOCK * 8, 3), np.uint8)

    def close(self) -> None:
        self.capture.release()


def seek_trial(frame_at: Callable[[float], np.ndarray], times: list[float], expected: list[int]):
    latencies, correct = [], 0
    for seconds, index in zip(times, expected, strict=True):
        elapsed, frame = timed(lambda s=seconds: frame_at(s))
        latencies.append(elapsed)
        correct += read_code(frame) == index
    return latencies, correct


def interleaved_trials(ours: Callable, naive: Callable, times: list[float], expected: list[int]):
    """Alternate the two readers seek by seek, so background load on the machine hits both alike."""
    ours_ms, naive_ms, ours_ok, naive_ok = [], [], 0, 0
    for seconds, index in zip(times, expected, strict=True):
        latencies, correct = seek_trial(ours, [seconds], [index])
        ours_ms += latencies
        ours_ok += correct
        latencies, correct = seek_trial(naive, [seconds], [index])
        naive_ms += latencies
        naive_ok += correct
    return ours_ms, ours_ok, naive_ms, naive_ok


def random_seek_rows(path: Path, label: str, count: int, frame_times: np.ndarray) -> tuple[list[Row], dict]:
    rng = np.random.default_rng(SEED)
    duration = frame_times[-1]
    times = [float(t) for t in rng.uniform(0, duration, count)]
    expected = [int(np.searchsorted(frame_times, t + 1e-9, side="right") - 1) for t in times]
    naive = NaiveCapture(path)
    with open_video(path) as video:
        ours, ours_ok, theirs, theirs_ok = interleaved_trials(video.frame_at, naive.frame_at, times, expected)
    naive.close()
    (om, op), (nm, np95) = ms_stats(ours), ms_stats(theirs)
    rows = [
        Row(f"random frame_at {label}, median / p95 (ms)", f"{om:.1f} / {op:.1f}", f"{nm:.1f} / {np95:.1f}",
            "no slower than naive", yes(om <= nm)),
        Row(f"frame accuracy {label} ({count} seeks)", f"{ours_ok}/{count}", f"{theirs_ok}/{count}", "all exact",
            yes(ours_ok == count)),
    ]
    numbers = {"median_ms": om, "p95_ms": op, "naive_median_ms": nm, "naive_p95_ms": np95,
               "exact": ours_ok, "naive_exact": theirs_ok, "seeks": count}
    return rows, numbers


def scrub_rows(path: Path, count: int, duration: float) -> tuple[list[Row], dict]:
    rng = np.random.default_rng(SEED + 1)
    spot = round(duration / 2) + 0.5
    times = [float(t) for t in spot + rng.uniform(-1.0, 1.0, count)]
    expected = [int(t * FPS + 1e-9) for t in times]
    naive = NaiveCapture(path)
    with open_video(path) as video:
        video.frame_at(spot)
        naive.frame_at(spot)
        ours, ours_ok, theirs, theirs_ok = interleaved_trials(video.frame_at, naive.frame_at, times, expected)
        steps = [video.frame_index_at(spot) + k for k in list(range(1, 26)) + list(range(24, -26, -1))]
        step_times = [video.frame_time(i) for i in steps]
        step_ms, step_ok, naive_step_ms, naive_step_ok = interleaved_trials(
            video.frame_at, naive.frame_at, step_times, steps
        )
    naive.close()
    om, nm = statistics.median(ours), statistics.median(theirs)
    sm, nsm = statistics.median(step_ms), statistics.median(naive_step_ms)
    rows = [
        Row(f"scrub +-1 s, median / p95 (ms), {count} seeks", "{:.2f} / {:.2f}".format(*ms_stats(ours)),
            "{:.1f} / {:.1f}".format(*ms_stats(theirs)), ">= 3x faster than naive", yes(nm >= 3 * om)),
        Row("scrub frame accuracy", f"{ours_ok}/{count}", f"{theirs_ok}/{count}", "all exact", yes(ours_ok == count)),
        Row("one-frame step +1/-1, median / p95 (ms)", "{:.2f} / {:.2f}".format(*ms_stats(step_ms)),
            "{:.1f} / {:.1f}".format(*ms_stats(naive_step_ms)), "cheap", yes(sm <= nsm)),
        Row("one-frame step accuracy", f"{step_ok}/{len(steps)}", f"{naive_step_ok}/{len(steps)}", "all exact",
            yes(step_ok == len(steps))),
    ]
    numbers = {"scrub_median_ms": om, "naive_scrub_median_ms": nm, "scrub_speedup": nm / om,
               "scrub_exact": ours_ok, "naive_scrub_exact": theirs_ok, "step_median_ms": sm,
               "naive_step_median_ms": nsm, "step_exact": step_ok, "steps": len(steps)}
    return rows, numbers


def playback_rows(path: Path, frames: int, start_seconds: float) -> tuple[list[Row], dict]:
    with open_video(path) as video:
        start = video.frame_index_at(start_seconds)
        video.frame(start)

        def play() -> None:
            for index in range(start + 1, start + 1 + frames):
                video.frame(index)  # shown and dropped, as a player does

        elapsed, _ = timed(play)
    ours_fps = frames / (elapsed / 1000)
    naive = NaiveCapture(path)
    naive.frame_at(start_seconds)

    def naive_run() -> None:
        for _ in range(frames):
            ok, bgr = naive.capture.read()
            cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    naive_elapsed, _ = timed(naive_run)
    naive.close()
    naive_fps = frames / (naive_elapsed / 1000)
    row = Row(f"sequential playback, RGB, {frames} frames (fps)", f"{ours_fps:.0f}", f"{naive_fps:.0f}", ">= 30",
              yes(ours_fps >= 30))
    return [row], {"playback_fps": ours_fps, "naive_playback_fps": naive_fps}


def open_rows(path: Path) -> tuple[list[Row], dict]:
    elapsed, video = timed(lambda: open_video(path))
    count = video.frame_count
    video.close()
    row = Row(f"open + frame table ({count} frames, demux only) (ms)", f"{elapsed:.0f}", "-", "cheap", "-")
    return [row], {"open_ms": elapsed, "frames": count}


def timed_hour_envelope_build() -> tuple[float, EnvelopePyramid]:
    """Build time for 60 minutes of 16 kHz samples (the samples themselves are freed afterwards)."""
    samples = np.random.default_rng(SEED).random(60 * 60 * AUDIO_RATE, dtype=np.float32) * 2 - 1
    return timed(lambda: EnvelopePyramid.build(samples, AUDIO_RATE))


def envelope_rows(path: Path, workdir: Path) -> tuple[list[Row], dict]:
    build_ms, pyramid = timed_hour_envelope_build()
    rng = np.random.default_rng(SEED)
    queries = []
    for _ in range(200):
        t0 = float(rng.uniform(0, 3000))
        width = float(rng.choice([1.0, 10.0, 60.0, 600.0, 3600.0 - t0]))
        queries.append(timed(lambda a=t0, w=width: pyramid.query(a, a + w, 1920))[0])
    query_ms = statistics.median(queries)
    query_p95 = float(np.percentile(queries, 95))
    cache = workdir / "cache"
    for entry in cache.glob("envelopes/*.npz"):
        entry.unlink()
    cold_ms, _ = timed(lambda: load_envelope(path, cache_dir=cache))
    warm_ms, _ = timed(lambda: load_envelope(path, cache_dir=cache))
    rows = [
        Row("envelope build, 60 min @ 16 kHz (57.6 M samples) (s)", f"{build_ms / 1000:.2f}", "-", "< 2 s",
            yes(build_ms < 2000)),
        Row("envelope window query, 1920 px, median / p95 (ms)", f"{query_ms:.3f} / {query_p95:.3f}", "-", "< 5 ms",
            yes(query_p95 < 5)),
        Row("load_envelope 10-min file: decode+build / cache hit (ms)", f"{cold_ms:.0f} / {warm_ms:.1f}",
            "cv2 has no audio", "instant reopen", yes(warm_ms < 100)),
    ]
    return rows, {"envelope_build_s": build_ms / 1000, "envelope_query_median_ms": query_ms,
                  "envelope_query_p95_ms": query_p95, "load_envelope_cold_ms": cold_ms,
                  "load_envelope_cached_ms": warm_ms}


def yes(condition: bool) -> str:
    return "yes" if condition else "NO"


def print_table(rows: list[Row]) -> None:
    headers = ("metric", "engine.media", "naive cv2", "target", "met")
    cells = [headers] + [(r.metric, r.ours, r.naive, r.target, r.met) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    print(line.format(*headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cell in cells[1:]:
        print(line.format(*cell))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep generated videos here and reuse them across runs")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the constant-rate video")
    parser.add_argument("--seeks", type=int, default=50, help="random seeks per file")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args(argv)
    temp = None if args.workdir else tempfile.TemporaryDirectory(prefix="avr-bench-")
    workdir = args.workdir or Path(temp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    cfr, vfr, vfr_times = ensure_videos(workdir, args.minutes)
    small, small_times = ensure_small_video(workdir)
    cfr_times = np.arange(round(args.minutes * 60 * FPS)) / FPS
    rows: list[Row] = []
    numbers: dict = {}
    for key, (new_rows, values) in {
        "open": open_rows(cfr),
        "random_cfr": random_seek_rows(cfr, "CFR 720p", args.seeks, cfr_times),
        "random_vfr": random_seek_rows(vfr, "VFR 720p gop250", args.seeks, vfr_times),
        "random_small": random_seek_rows(small, "360p 30fps gop250", args.seeks, small_times),
        "scrub": scrub_rows(cfr, 100, args.minutes * 60),
        "playback": playback_rows(cfr, 500, args.minutes * 60 / 5),
        "envelope": envelope_rows(cfr, workdir),
    }.items():
        rows += new_rows
        numbers[key] = values
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(Row("peak RSS of this process (MB)", f"{peak_mb:.0f}", "(same process)", "< 1024", yes(peak_mb < 1024)))
    numbers["peak_rss_mb"] = peak_mb
    if args.json:
        print(json.dumps({"numbers": numbers, "rows": [asdict(r) for r in rows]}, indent=1))
    else:
        print_table(rows)
    if temp is not None:
        temp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
