"""Inference speed: the model inputs of long-video evaluation.

`--part media`: 50 exact frames at segment midpoints (the benchmark's sampler) plus the whole
16 kHz mono audio track of a 60-minute 1280x720 25 fps H.264 video (250-frame GOP, stereo
44.1 kHz AAC), generated once into --workdir (see benchmarks/long_video.py). Each reader runs
in its own fresh process (its time and peak RSS include nothing of the others):

- ours:          engine.media.sampling (`sample_frames` + `sample_audio`), exact, defaults (frames:
                 this process and a helper process share the keyframe groups when two cores are
                 idle, else FFmpeg frame threads; audio: decoded in one thread, resampled in another);
- ours-1-worker: the same with `workers=1` (one decoder thread, audio in one thread);
- ours-fast:     `sample_frames(..., fast_seek=True)`, nearest keyframes, with their true times;
- torchcodec:  the decoder transformers uses, exact seek mode, one FFmpeg thread (and all threads);
- cv2:         naive `CAP_PROP_POS_FRAMES` seeks, frames only (OpenCV has no audio).

Every frame shows its own index as black/white blocks, so exactness is measured, not assumed.
CPU times include the reader's child processes (a helper process counts once it has exited), and
the peak memory column adds the largest child's peak to the reader's own (pages the two share,
such as the frames a helper writes, are counted twice: an upper bound).

    python benchmarks/bench_infer.py --part media --workdir /tmp/avr-bench [--json]

`--part openai`: the `openai` backend against local HTTP servers (benchmarks/infer_openai.py):
concurrency 8 vs 1 against a 200 ms server, and two servers vs one.

    python benchmarks/bench_infer.py --part openai [--items 48] [--openai-frames 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

FRAMES = 50
READERS = ("ours", "ours-1-worker", "ours-fast", "torchcodec", "torchcodec-threads", "cv2")


# ----- readers (each runs in its own process via --reader) ----------------------------------------


def segment_midpoints(frame_count: int, n: int) -> list[int]:
    """The benchmark's sampler (engine.backends.inputs.official_frame_indices, repeated here so the
    media bench runs on a branch without the backends)."""
    seg = float(frame_count - 1) / n
    return [int(seg / 2 + round(seg * i)) for i in range(n)]


def read_ours(path: str, n: int, fast: bool, workers: int | None) -> dict:
    from engine.media.sampling import sample_audio, sample_frames

    options = {"workers": workers} if workers else {}
    started = _mark()
    indices = segment_midpoints(_frame_count(path), n)
    opened = _mark()
    sampled = sample_frames(path, indices, fast_seek=True, **options) if fast else sample_frames(path, indices, **options)
    framed = _mark()
    audio = None if fast else sample_audio(path, 0.0, 1e9, **options)
    done = _mark()
    return _report(started, opened, framed, done, indices, sampled.frames, [int(i) for i in sampled.indices],
                   [float(t) for t in sampled.times], audio)


def _frame_count(path: str) -> int:
    try:
        from engine.media.sampling import video_frame_count
    except ImportError:  # the engine before sampling had it: open the video for its frame table
        from engine.media import open_video

        with open_video(path, read_ahead=0) as video:
            return video.frame_count
    return video_frame_count(path)


def read_torchcodec(path: str, n: int, threads: int) -> dict:
    try:
        from torchcodec.decoders import AudioDecoder, VideoDecoder
    except Exception as error:  # noqa: BLE001 - any import failure means "cannot run", reported as such
        return {"error": f"torchcodec cannot run here: {type(error).__name__}: {str(error).splitlines()[0]}"}
    started = _mark()
    decoder = VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=threads)
    indices = segment_midpoints(decoder.metadata.num_frames, n)
    opened = _mark()
    batch = decoder.get_frames_at(indices)
    frames = [frame.permute(1, 2, 0).numpy() for frame in batch.data]
    framed = _mark()
    audio = AudioDecoder(path, sample_rate=16000, num_channels=1).get_all_samples().data.numpy()[0]
    done = _mark()
    return _report(started, opened, framed, done, indices, frames, indices,
                   [float(t) for t in batch.pts_seconds], audio)


def read_cv2(path: str, n: int) -> dict:
    import cv2

    started = _mark()
    capture = cv2.VideoCapture(path)
    indices = segment_midpoints(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), n)
    opened = _mark()
    frames = []
    for index in indices:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = capture.read()
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if ok else None)
    framed = _mark()
    return _report(started, opened, framed, framed, indices, frames, indices, None, None)


def _mark() -> tuple[float, float]:
    """(wall clock, CPU time of this process (all threads) and of its exited children) in seconds."""
    return time.perf_counter(), sum(os.times()[:4])


def _report(started, opened, framed, done, wanted, frames, returned, times, audio) -> dict:
    from long_video import frame_code

    return {
        "open_s": opened[0] - started[0], "frames_s": framed[0] - opened[0], "audio_s": done[0] - framed[0],
        "total_s": done[0] - started[0], "open_cpu_s": opened[1] - started[1], "frames_cpu_s": framed[1] - opened[1],
        "audio_cpu_s": done[1] - framed[1],
        "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
        "self_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "process_cpu_s": sum(os.times()[:4]),
        "wanted": list(wanted), "returned": list(returned), "times": times,
        "codes": [frame_code(f) if f is not None else -1 for f in frames],
        "shape": list(frames[0].shape) if frames and frames[0] is not None else None,
        "audio_samples": None if audio is None else int(len(audio)),
        "audio_rms": None if audio is None else float((audio.astype("float64") ** 2).mean() ** 0.5),
    }


def run_reader(name: str, path: str, n: int) -> dict:
    if name.startswith("ours"):
        return read_ours(path, n, fast=name == "ours-fast", workers=1 if name == "ours-1-worker" else None)
    if name.startswith("torchcodec"):
        return read_torchcodec(path, n, threads=0 if name.endswith("threads") else 1)
    return read_cv2(path, n)


# ----- the media part ---------------------------------------------------------------------------


def measure_in_subprocess(name: str, path: Path, n: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--reader", name, "--video", str(path),
               "--frames", str(n)]
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{name} failed: {last}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def exact_count(numbers: dict) -> int:
    from long_video import expected_code

    return sum(code == expected_code(index) for code, index in zip(numbers["codes"], numbers["wanted"], strict=True))


def truthful_count(numbers: dict) -> int:
    """Frames whose content is the frame the reader says it returned (what fast seek must guarantee)."""
    from long_video import FPS, expected_code

    pairs = zip(numbers["codes"], numbers["returned"], numbers["times"], strict=True)
    return sum(code == expected_code(index) and abs(time_ - index / FPS) < 1e-6 for code, index, time_ in pairs)


def media_rows(results: dict[str, dict], n: int, readers: tuple[str, ...]) -> list[tuple[str, ...]]:
    rows = []
    base = results.get("torchcodec", {})
    for name in readers:
        numbers = results[name]
        if "error" in numbers:
            rows.append((name, numbers["error"], "", "", "", "", "", ""))
            continue
        exact = f"{exact_count(numbers)}/{n}"
        if name == "ours-fast":  # keyframes by design: what must hold is that index and time are the true ones
            exact = f"keyframes; true index+time {truthful_count(numbers)}/{n}"
        audio = "-" if numbers["audio_samples"] is None else f"{numbers['audio_s']:.2f} ({numbers['audio_cpu_s']:.2f})"
        has_audio = numbers["audio_samples"] is not None
        ratio = f"{base['total_s'] / numbers['total_s']:.2f}x" if "total_s" in base and has_audio else "-"
        frames_ratio = (f"{(base['open_s'] + base['frames_s']) / (numbers['open_s'] + numbers['frames_s']):.2f}x"
                        if "total_s" in base else "-")
        rows.append((name, f"{numbers['open_s']:.2f}", f"{numbers['frames_s']:.2f} ({numbers['frames_cpu_s']:.2f})",
                     audio, f"{numbers['total_s']:.2f}", _peak(numbers), exact, f"{frames_ratio} / {ratio}"))
    return rows


def _peak(numbers: dict) -> str:
    own = numbers.get("self_peak_mb", numbers["peak_mb"])
    helper = numbers["peak_mb"] - own
    return f"{numbers['peak_mb']:.0f}" + (f" ({own:.0f}+{helper:.0f})" if helper > 1 else "")


def print_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    print(line.format(*headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line.format(*row))


def media_part(workdir: Path, minutes: int, n: int, repeat: int, as_json: bool,
               readers: tuple[str, ...] = READERS) -> dict:
    from long_video import long_video

    path = long_video(workdir, minutes)
    load_before = os.getloadavg()[0]
    results: dict[str, dict] = {}
    for _ in range(repeat):  # round robin, so a busy moment on the machine hits every reader alike
        for name in readers:
            numbers = measure_in_subprocess(name, path, n)
            best = results.get(name)
            if best is None or ("error" in best and "error" not in numbers) or (
                    "error" not in numbers and numbers["total_s"] < best["total_s"]):
                results[name] = numbers
    results["_machine"] = {"cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg()[0],
                           "repeat": repeat}
    if as_json:
        return results
    machine = results["_machine"]
    print(f"media: {n} frames at segment midpoints + the whole audio at 16 kHz mono of {path.name}; "
          f"each reader in a fresh process, best of {repeat} by total time; {machine['cores']} cores, "
          f"load average {machine['load_before']:.1f} before, {machine['load_after']:.1f} after")
    headers = ("reader", "open s", "frames s (CPU)", "audio s (CPU)", "total s", "peak MB (own+helper)", "exact frames",
               "speed vs torchcodec 1-thread: open+frames / total")
    print_table(headers, media_rows(results, n, readers))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "media", "openai"), default="all")
    parser.add_argument("--items", type=int, default=48, help="openai: requests per measurement")
    parser.add_argument("--openai-frames", type=int, default=0, help="openai: frames per request (0: text only)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/avr-bench"),
                        help="generated videos are kept here and reused (never commit them)")
    parser.add_argument("--minutes", type=int, default=60, help="length of the long video (multiple of 5)")
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader, round robin; the best is shown")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated subset of: " + ", ".join(READERS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--reader", choices=READERS, help=argparse.SUPPRESS)
    parser.add_argument("--video", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = set(args.readers.split(",")) - set(READERS)
    if unknown:
        parser.error(f"unknown readers: {', '.join(sorted(unknown))}")
    if args.reader:
        print(json.dumps(run_reader(args.reader, args.video, args.frames)))
        return 0
    results = {}
    if args.part in ("all", "media"):
        results["media"] = media_part(args.workdir, args.minutes, args.frames, args.repeat, args.json,
                                      tuple(args.readers.split(",")))
    if args.part in ("all", "openai") and not args.json:
        from infer_openai import openai_part

        openai_part(args.items, args.openai_frames)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
