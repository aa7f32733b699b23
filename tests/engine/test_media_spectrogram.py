"""Mel spectrograms for the visible range: beeps of different pitch land in different bins, tiles
join seamlessly, and tiles are cached beside the envelopes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.media.audio import load_audio
from engine.media.spectrogram import (
    BIN_HZ,
    SAMPLE_RATE,
    TILE_COLUMNS,
    column_seconds,
    level_for,
    mel_filterbank,
    open_spectrogram,
    spectrogram_cache_folder,
    spectrogram_of_samples,
)
from engine.media.writer import VideoWriter
from engine.synth.sound import BEEP_HZ
from tests.engine.media_fixtures import index_frame, tone, write_cfr_video

LOW, HIGH = BEEP_HZ["low beep"], BEEP_HZ["high beep"]
SILENCE = np.zeros(SAMPLE_RATE // 2, np.float32)


def beeps() -> np.ndarray:
    """low beep [0, 1) s, silence [1, 1.5), high beep [1.5, 2.5), silence [2.5, 3)."""
    return np.concatenate([tone(LOW, 1.0, SAMPLE_RATE), SILENCE, tone(HIGH, 1.0, SAMPLE_RATE), SILENCE])


@pytest.fixture(scope="module")
def beep_video(tmp_path_factory) -> Path:
    """A 9 s video: the beeps three times over, so coarse levels and several tiles are exercised."""
    path = tmp_path_factory.mktemp("spectrogram") / "beeps.mp4"
    with VideoWriter(path, (64, 48), 10.0, audio_rate=SAMPLE_RATE) as writer:
        writer.add_audio(np.tile(beeps(), 3))
        for index in range(90):
            writer.add_frame(index_frame(index, 64, 48))
    return path


def nearest_bin(hz: float) -> int:
    return int(np.argmin(np.abs(BIN_HZ - hz)))


def test_mel_bins_are_ordered_and_cover_the_beeps():
    weights, centres = mel_filterbank()
    assert np.all(np.diff(centres) > 0)
    assert centres[0] < LOW < HIGH < centres[-1]
    assert np.all(weights.sum(axis=1) > 0)  # no empty filter


def test_a_high_beep_and_a_low_beep_land_in_different_bins():
    spec = spectrogram_of_samples(beeps())
    low_bin, high_bin = spec.loudest_bin_at(0.5), spec.loudest_bin_at(2.0)
    assert abs(low_bin - nearest_bin(LOW)) <= 1
    assert abs(high_bin - nearest_bin(HIGH)) <= 1
    assert high_bin - low_bin >= 10
    quiet = spec.db[:, spec.column_at(1.25)].max()
    assert spec.db[high_bin, spec.column_at(2.0)] > quiet + 60  # the beep stands far above silence


def test_columns_are_centred_on_their_time():
    spec = spectrogram_of_samples(beeps())
    low_bin = nearest_bin(LOW)
    onset = spec.column_at(1.0)  # the low beep stops at 1.0 s
    assert spec.db[low_bin, onset - 2] > spec.db[low_bin, onset + 2] + 40


def test_level_is_chosen_so_columns_are_about_pixel_sized():
    assert level_for(3.0, 300) == 0  # 10 ms columns
    level = level_for(3600.0, 1000)
    assert 3600.0 / column_seconds(level) <= 2000 < 3600.0 / column_seconds(level - 1)


def test_the_file_range_matches_the_samples_across_tiles(beep_video, tmp_path):
    samples = load_audio(beep_video, sr=SAMPLE_RATE)
    with open_spectrogram(beep_video, tmp_path / "cache") as source:
        whole = source.range(0.0, source.duration, 600)  # level 0: 9 s / 10 ms = 900 columns, 4 tiles
        assert whole.column_seconds == column_seconds(0)
        assert whole.db.shape[1] > TILE_COLUMNS * 3
        direct = spectrogram_of_samples(samples)
        n = min(whole.db.shape[1], direct.db.shape[1]) - 2
        assert np.allclose(whole.db[:, :n], direct.db[:, :n], atol=0.2)  # float16 cache, no seams
        part = source.range(4.0, 6.5, 200)
        assert part.start <= 4.0 < part.start + part.column_seconds
        assert part.end >= 6.5
        assert abs(part.loudest_bin_at(4.5) - nearest_bin(HIGH)) <= 1  # 4.5 s = 1.5 s into the 2nd round
        assert abs(part.loudest_bin_at(6.4) - nearest_bin(LOW)) <= 1


def test_a_zoomed_out_view_still_shows_both_beeps(beep_video, tmp_path):
    with open_spectrogram(beep_video, tmp_path / "cache") as source:
        coarse = source.range(0.0, source.duration, 4)  # a few pixels for 9 s
    assert coarse.column_seconds > 1.0
    loud = coarse.db.max(axis=1)
    assert loud[nearest_bin(LOW)] > loud.min() + 40
    assert loud[nearest_bin(HIGH)] > loud.min() + 40


def test_tiles_are_cached_beside_the_envelopes_and_reused(beep_video, tmp_path):
    cache = tmp_path / "cache"
    folder = spectrogram_cache_folder(beep_video, cache)
    assert folder.parent == cache / "spectrograms"
    with open_spectrogram(beep_video, cache) as source:
        first = source.range(0.0, 3.0, 300)
    tiles = sorted(folder.glob("*.npy"))
    assert tiles
    stamps = [t.stat().st_mtime_ns for t in tiles]
    tiles[0].write_bytes(b"damaged")
    with open_spectrogram(beep_video, cache) as source:
        again = source.range(0.0, 3.0, 300)
    assert np.array_equal(first.db, again.db)
    assert [t.stat().st_mtime_ns for t in tiles[1:]] == stamps[1:]  # read back, not recomputed
    assert np.load(tiles[0]).shape[0] == len(BIN_HZ)  # the damaged one was rebuilt


def test_a_video_without_audio_has_no_spectrogram(tmp_path):
    path = write_cfr_video(tmp_path / "silent.mp4", 10, audio_hz=None)
    assert open_spectrogram(path, tmp_path / "cache") is None
