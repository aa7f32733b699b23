"""Audio decoding, block reading, the waveform envelope pyramid and its disk cache."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from engine.media import (
    AudioStream,
    EnvelopePyramid,
    NoAudioError,
    VideoWriter,
    load_audio,
    load_envelope,
    read_audio_block,
)
from engine.media.envelope import pixel_bucket_ranges
from engine.media.envelope_cache import envelope_cache_path
from tests.engine.media_fixtures import HEIGHT, WIDTH, index_frame, tone, write_cfr_video

RATE = 16000
LOW_HZ, HIGH_HZ = 440.0, 1000.0
HALF_SECONDS = 3.0


@pytest.fixture(scope="module")
def two_tone_path(tmp_path_factory):
    """6 s video: 440 Hz for the first 3 s, 1000 Hz for the last 3 s, written in interleaved chunks."""
    path = tmp_path_factory.mktemp("audio") / "two_tone.mp4"
    audio = np.concatenate([tone(LOW_HZ, HALF_SECONDS, RATE), tone(HIGH_HZ, HALF_SECONDS, RATE)])
    fps = 25
    with VideoWriter(path, (WIDTH, HEIGHT), fps, audio_rate=RATE) as writer:
        per_frame = RATE // fps
        for index in range(int(2 * HALF_SECONDS * fps)):
            writer.add_frame(index_frame(index))
            writer.add_audio(audio[index * per_frame : (index + 1) * per_frame])
    return path


def dominant_frequency(samples: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / sr)[np.argmax(spectrum)])


def test_load_audio_has_the_right_length_and_tones(two_tone_path):
    samples = load_audio(two_tone_path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 2 * HALF_SECONDS * RATE) <= 1024
    assert dominant_frequency(samples[RATE // 2 : 5 * RATE // 2], RATE) == pytest.approx(LOW_HZ, abs=2)
    assert dominant_frequency(samples[7 * RATE // 2 : 11 * RATE // 2], RATE) == pytest.approx(HIGH_HZ, abs=2)


def test_start_end_window_is_exact_and_resampled(two_tone_path):
    whole = load_audio(two_tone_path)
    window = load_audio(two_tone_path, start=2.5, end=4.0)
    assert len(window) == int(1.5 * RATE)
    np.testing.assert_allclose(window, whole[int(2.5 * RATE) : int(4.0 * RATE)], atol=1e-4)
    low_rate = load_audio(two_tone_path, sr=8000, start=3.5, end=5.5)
    assert len(low_rate) == 2 * 8000
    assert dominant_frequency(low_rate, 8000) == pytest.approx(HIGH_HZ, abs=2)


def test_block_reader_matches_a_whole_load(two_tone_path):
    whole = load_audio(two_tone_path)
    with AudioStream(two_tone_path) as stream:
        blocks = [stream.read(1.0 + 0.05 * k, 0.05) for k in range(40)]
        jumped_back = stream.read(0.2, 0.3)
    np.testing.assert_allclose(np.concatenate(blocks), whole[RATE : 3 * RATE], atol=1e-4)
    np.testing.assert_allclose(jumped_back, whole[int(0.2 * RATE) : int(0.5 * RATE)], atol=1e-4)
    np.testing.assert_allclose(read_audio_block(two_tone_path, 4.0, 0.25), whole[4 * RATE : 4 * RATE + RATE // 4], atol=1e-4)


def test_reading_past_the_end_returns_what_is_there(two_tone_path):
    with AudioStream(two_tone_path) as stream:
        tail = stream.read(5.9, 1.0)
    assert 0 < len(tail) <= int(0.1 * RATE) + 1024


def test_video_without_audio(tmp_path):
    path = write_cfr_video(tmp_path / "silent.mp4", 30, audio_hz=None)
    with pytest.raises(NoAudioError, match="no audio"):
        load_audio(path)
    assert load_envelope(path, cache_dir=tmp_path / "cache") is None


def brute_force(samples, pyramid, t0, t1, n):
    level = pyramid.level_for((t1 - t0) * pyramid.sample_rate / n)
    starts, stops = pixel_bucket_ranges(t0, t1, n, pyramid.sample_rate, level.bucket, len(level.mins))
    mins, maxs = np.full(n, np.nan), np.full(n, np.nan)
    for p, (a, b) in enumerate(zip(starts, stops, strict=True)):
        if a < len(level.mins):
            chunk = samples[a * level.bucket : b * level.bucket]
            mins[p], maxs[p] = chunk.min(), chunk.max()
    return mins, maxs


def test_envelope_query_matches_brute_force_over_raw_samples():
    rng = np.random.default_rng(5)
    samples = rng.uniform(-1, 1, size=600_037).astype(np.float32)
    pyramid = EnvelopePyramid.build(samples, RATE)
    duration = len(samples) / RATE
    windows = [(0.0, duration, 800), (1.234, 1.3, 700), (10.0, 30.0, 333), (30.0, 45.0, 100), (-1.0, 2.0, 50)]
    windows += [(float(a), float(a + w), int(n)) for a, w, n in zip(
        rng.uniform(0, duration, 20), rng.uniform(0.01, 20, 20), rng.integers(10, 2000, 20), strict=True)]
    for t0, t1, n in windows:
        times, mins, maxs = pyramid.query(t0, t1, n)
        expected_mins, expected_maxs = brute_force(samples, pyramid, t0, t1, n)
        assert len(times) == n and np.all(np.diff(times) > 0)
        np.testing.assert_array_equal(mins, expected_mins.astype(np.float32))
        np.testing.assert_array_equal(maxs, expected_maxs.astype(np.float32))


def test_envelope_levels_cover_the_whole_track():
    samples = np.sin(np.linspace(0, 200, 100_000)).astype(np.float32)
    pyramid = EnvelopePyramid.build(samples, RATE)
    for level in pyramid.levels:
        assert level.mins.min() == samples.min() and level.maxs.max() == samples.max()
        assert len(level.mins) == -(-len(samples) // level.bucket)
    assert pyramid.duration == pytest.approx(len(samples) / RATE)


def test_envelope_disk_cache_hit_is_equal_and_fast(two_tone_path, tmp_path):
    cache = tmp_path / "cache"
    started = time.perf_counter()
    built = load_envelope(two_tone_path, cache_dir=cache)
    build_seconds = time.perf_counter() - started
    assert envelope_cache_path(two_tone_path, cache_dir=cache).is_file()
    started = time.perf_counter()
    cached = load_envelope(two_tone_path, cache_dir=cache)
    hit_seconds = time.perf_counter() - started
    assert hit_seconds < build_seconds
    assert cached.sample_count == built.sample_count and len(cached.levels) == len(built.levels)
    for ours, theirs in zip(built.levels, cached.levels, strict=True):
        np.testing.assert_array_equal(ours.mins, theirs.mins)
        np.testing.assert_array_equal(ours.maxs, theirs.maxs)


def test_envelope_cache_dir_from_environment_and_keyed_by_identity(two_tone_path, tmp_path, monkeypatch):
    monkeypatch.setenv("AVR_CACHE_DIR", str(tmp_path / "env-cache"))
    pyramid = load_envelope(two_tone_path)
    assert pyramid.sample_count == len(load_audio(two_tone_path))
    assert list((tmp_path / "env-cache" / "envelopes").glob("*.npz"))
    key_before = envelope_cache_path(two_tone_path)
    stat = two_tone_path.stat()
    os.utime(two_tone_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert envelope_cache_path(two_tone_path) != key_before


def test_damaged_cache_entry_is_rebuilt(two_tone_path, tmp_path):
    cache = tmp_path / "cache"
    entry = envelope_cache_path(two_tone_path, cache_dir=cache)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"not an npz")
    pyramid = load_envelope(two_tone_path, cache_dir=cache)
    assert pyramid is not None and pyramid.sample_count > 0
