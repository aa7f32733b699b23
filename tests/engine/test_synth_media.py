"""Synthetic ground truth checked against the decoded mp4: pixels in boxes, tones in intervals."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media import load_audio, open_video
from engine.synth import SynthConfig, generate_benchmark
from engine.synth.scene import COLOURS
from engine.synth.sound import AMPLITUDE, BEEP_HZ

CONFIG = SynthConfig(videos=2, minutes=0.4, seed=7, width=320, height=180)
RATE = 16000
COLOUR_TOLERANCE = 40


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_media")
    return generate_benchmark(out, CONFIG)


def tone_amplitude(samples: np.ndarray, hz: float) -> float:
    """Amplitude of the `hz` component in a Hann-windowed block (a single-bin Fourier transform)."""
    window = np.hanning(len(samples))
    t = np.arange(len(samples)) / RATE
    return float(2 * abs(np.sum(window * samples * np.exp(-2j * np.pi * hz * t))) / window.sum())


def test_video_has_the_configured_size_length_and_audio(bench):
    for name in ("vid000.mp4", "vid001.mp4"):
        with open_video(bench.videos_dir / name) as video:
            assert video.size == (CONFIG.width, CONFIG.height)
            assert video.fps == pytest.approx(CONFIG.fps)
            assert video.duration == pytest.approx(CONFIG.minutes * 60, abs=0.1)
        assert len(load_audio(bench.videos_dir / name, sr=RATE)) == pytest.approx(
            CONFIG.minutes * 60 * RATE, rel=0.01
        )


def _colour_in_box(video, box) -> str:
    """Name of the shape colour at the box centre of the decoded frame (fails if none is close)."""
    x1, y1, x2, y2 = (int(v) for v in box.bbox)
    pixel = video.frame_at(box.timestamp)[(y1 + y2) // 2, (x1 + x2) // 2].astype(int)
    name = min(COLOURS, key=lambda c: np.abs(np.array(COLOURS[c]) - pixel).max())
    assert np.abs(np.array(COLOURS[name]) - pixel).max() <= COLOUR_TOLERANCE, (box, pixel)
    return name


def test_decoded_frame_at_each_clue_timestamp_shows_the_shape_in_its_box(bench):
    checked = 0
    for item in bench.items:
        if item.category == "event":
            continue
        clusters = [item.clue] if item.category == "object" else list(item.clue)
        with open_video(bench.videos_dir / item.video) as video:
            seen = [{_colour_in_box(video, box) for box in cluster} for cluster in clusters]
        checked += sum(len(cluster) for cluster in clusters)
        assert all(len(colours) == 1 for colours in seen), item.question
        if item.category == "object":
            assert seen == [{item.raw["target"]["colour"]}]
        else:
            assert len(set.union(*seen)) == item.answer
    assert checked >= 10


def _outside(intervals: list[tuple[float, float]], duration: float, width: float = 0.1, margin: float = 0.05):
    """Start times of blocks of `width` seconds that keep `margin` away from every interval."""
    starts = np.arange(0.0, duration - width, width)
    return [s for s in starts if all(s + width + margin <= a or s >= b + margin for a, b in intervals)]


def test_audio_event_tone_sounds_inside_each_interval_and_not_outside(bench):
    for item in bench.items:
        if item.modality != "audio":
            continue
        hz = BEEP_HZ[item.raw["target"]["sound"]]
        audio = load_audio(bench.videos_dir / item.video, sr=RATE)
        intervals = [(c.start, c.end) for c in item.clue]
        for start, end in intervals:
            block = audio[int((start + 0.02) * RATE) : int((end - 0.02) * RATE)]
            assert tone_amplitude(block, hz) > 0.5 * AMPLITUDE, (item.question, start)
        quiet = _outside(intervals, len(audio) / RATE)
        assert len(quiet) > 20
        levels = [tone_amplitude(audio[int(s * RATE) : int((s + 0.1) * RATE)], hz) for s in quiet]
        assert max(levels) < 0.1 * AMPLITUDE, item.question
