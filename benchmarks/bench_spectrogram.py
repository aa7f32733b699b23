"""Spectrogram tier benchmark: engine.media.spectrogram (tiled, cached, only the visible range)
against scipy.signal.spectrogram over the whole decoded track, in the same run.

Writes (or reuses, with --workdir) a 10-minute AAC file of noise with low and high beeps, then
times: the whole file at screen width cold and from the disk cache, a 10 s zoom cold, and the
baseline (decode everything + scipy STFT at the same 32 ms window / 10 ms hop).

    .venv/bin/python benchmarks/bench_spectrogram.py --workdir /tmp/avr-bench [--minutes 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.media.audio import load_audio  # noqa: E402
from engine.media.spectrogram import BASE_HOP, N_FFT, SAMPLE_RATE, SpectrogramSource  # noqa: E402

SCREEN_COLUMNS = 1500


def write_audio(path: Path, minutes: float) -> Path:
    """Noise with a 440 Hz beep every 7 s and a 1760 Hz beep every 11 s, AAC in an .m4a."""
    if path.is_file():
        return path
    rng = np.random.default_rng(3)
    total = int(minutes * 60 * SAMPLE_RATE)
    t = np.arange(total) / SAMPLE_RATE
    audio = 0.05 * rng.standard_normal(total)
    audio += 0.4 * np.sin(2 * np.pi * 440 * t) * ((t % 7) < 0.5)
    audio += 0.4 * np.sin(2 * np.pi * 1760 * t) * ((t % 11) < 0.5)
    with av.open(str(path), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for start in range(0, total, 1024 * 64):
            block = audio[start : start + 1024 * 64].astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="avr-bench-spec-"))
    workdir.mkdir(parents=True, exist_ok=True)
    audio = write_audio(workdir / f"beeps_{args.minutes:g}min.m4a", args.minutes)
    cache = workdir / "spectrogram-cache"
    shutil.rmtree(cache, ignore_errors=True)
    duration = args.minutes * 60
    rows = {}
    with SpectrogramSource(audio, cache) as source:
        rows["whole file, cold (s)"], whole = timed(lambda: source.range(0, duration, SCREEN_COLUMNS))
    with SpectrogramSource(audio, cache) as source:
        rows["whole file, from disk cache (s)"], _ = timed(lambda: source.range(0, duration, SCREEN_COLUMNS))
        rows["10 s zoom in the middle, cold (s)"], zoom = timed(
            lambda: source.range(duration / 2, duration / 2 + 10, SCREEN_COLUMNS))
    rows["whole-file columns"] = whole.db.shape[1]
    rows["zoom columns"] = zoom.db.shape[1]
    rows["cache size (MB)"] = round(sum(p.stat().st_size for p in cache.rglob("*.npy")) / 1e6, 2)

    def baseline():
        from scipy.signal import spectrogram

        samples = load_audio(audio, sr=SAMPLE_RATE)
        return spectrogram(samples, fs=SAMPLE_RATE, nperseg=N_FFT, noverlap=N_FFT - BASE_HOP)

    rows["baseline: decode all + scipy.signal.spectrogram (s)"], _ = timed(baseline)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{args.minutes:g}-minute AAC track, {SCREEN_COLUMNS} screen columns")
    for name, value in rows.items():
        print(f"  {name:55s} {value:.3f}" if isinstance(value, float) else f"  {name:55s} {value}")


if __name__ == "__main__":
    main()
