"""Cutting [start, end] clips for the `ref` protocol."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media import MediaError, cut_clip, load_audio, open_video
from tests.engine.media_fixtures import decode_index, vfr_times, write_cfr_video, write_vfr_video


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_cfr_video(tmp_path_factory.mktemp("clip") / "source.mp4", 250, gop=100)


def test_clip_has_the_span_with_audio(source, tmp_path):
    clip = cut_clip(source, tmp_path / "clip.mp4", 3.3, 7.1)
    with open_video(source) as original, open_video(clip) as cut:
        assert cut.has_audio
        assert cut.duration == pytest.approx(3.8, abs=1 / 25 + 1e-6)
        assert decode_index(cut.frame(0)) == original.frame_index_at(3.3)
        assert decode_index(cut.frame(cut.frame_count - 1)) == original.frame_index_at(7.1 - 1e-6)
        assert cut.frame_count == original.frame_index_at(7.1 - 1e-6) - original.frame_index_at(3.3) + 1
    audio = load_audio(clip)
    assert abs(len(audio) - 3.8 * 16000) <= 1024
    spectrum = np.abs(np.fft.rfft(audio[4000:36000]))
    assert np.fft.rfftfreq(32000, 1 / 16000)[np.argmax(spectrum)] == pytest.approx(440, abs=2)


def test_vfr_clip_keeps_frame_timing(tmp_path):
    times = vfr_times(120)
    source = write_vfr_video(tmp_path / "vfr.mp4", times)
    start, end = float(times[30]), float(times[80])
    with open_video(cut_clip(source, tmp_path / "vfr_clip.mp4", start, end)) as cut:
        assert not cut.has_audio
        np.testing.assert_allclose(cut.frame_times, times[30:80] - start, atol=1e-4)
        assert [decode_index(cut.frame(i)) for i in (0, 25, 49)] == [30, 55, 79]


def test_empty_span_is_refused(source, tmp_path):
    with pytest.raises(MediaError):
        cut_clip(source, tmp_path / "nothing.mp4", 5.0, 5.0)
    assert not (tmp_path / "nothing.mp4").exists()
