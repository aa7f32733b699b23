"""Every way a user's file can be broken gives a typed MediaError with a one-line message."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from engine.media import (
    EmptyVideoError,
    MediaError,
    NotAVideoError,
    TruncatedVideoError,
    VideoNotFoundError,
    VideoWriter,
    load_audio,
    load_envelope,
    open_video,
)
from tests.engine.media_fixtures import HEIGHT, WIDTH, decode_index, index_frame, write_cfr_video


def assert_one_line(error: MediaError, mentions: str) -> None:
    message = str(error)
    assert message and "\n" not in message
    assert mentions in message


def test_missing_file(tmp_path):
    with pytest.raises(VideoNotFoundError) as caught:
        open_video(tmp_path / "nowhere.mp4")
    assert_one_line(caught.value, "nowhere.mp4")
    with pytest.raises(VideoNotFoundError):
        load_audio(tmp_path / "nowhere.mp4")
    with pytest.raises(VideoNotFoundError):
        open_video(tmp_path)


def test_missing_file_for_the_waveform_is_a_media_error(tmp_path):
    """Issue 7 defect 15: load_envelope used to let FileNotFoundError escape from its cache key."""
    for missing in (tmp_path / "nowhere.mp4", tmp_path):
        with pytest.raises(VideoNotFoundError) as caught:
            load_envelope(missing, cache_dir=tmp_path / "cache")
        assert_one_line(caught.value, "nowhere.mp4" if missing != tmp_path else tmp_path.name)


def test_text_file_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 50)
    with pytest.raises(NotAVideoError) as caught:
        open_video(path)
    assert_one_line(caught.value, "notes.mp4")


def test_audio_only_file_is_not_a_video(tmp_path):
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, k * 1024, Fraction(1, 16000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(NotAVideoError) as caught:
        open_video(path)
    assert_one_line(caught.value, "no video stream")
    assert len(load_audio(path)) > 0


def test_zero_byte_file_is_empty(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(EmptyVideoError) as caught:
        open_video(path)
    assert_one_line(caught.value, "empty.mp4")


def test_video_track_without_frames_is_empty(tmp_path):
    path = tmp_path / "no_frames.mp4"
    VideoWriter(path, (WIDTH, HEIGHT), audio_rate=None).close()
    with pytest.raises(EmptyVideoError) as caught:
        open_video(path)
    assert_one_line(caught.value, "no_frames.mp4")


def test_truncated_file_plays_its_decodable_part(tmp_path):
    whole = write_cfr_video(tmp_path / "whole.mp4", 200, gop=25)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with open_video(cut) as video:
        assert video.truncated
        assert decode_index(video.frame_at(0.5)) == video.frame_index_at(0.5)
        assert video.frame_count < 200 and video.declared_duration == pytest.approx(8.0)
        with pytest.raises(TruncatedVideoError) as caught:
            video.frame_at(7.5)
        assert_one_line(caught.value, "decodable")
        last = video.frame_count - 1
        try:  # the last, partly written packet may or may not decode; it must not hang or crash
            assert decode_index(video.frame(last)) == last
        except TruncatedVideoError as error:
            assert_one_line(error, "cut.mp4")
        assert decode_index(video.frame(3)) == 3  # still usable after the error


def test_mp4_cut_before_its_index_is_truncated(tmp_path):
    path = tmp_path / "index_last.mp4"
    with av.open(str(path), "w", format="mp4") as container:  # no faststart: index written at the end
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(50):
            for packet in stream.encode(av.VideoFrame.from_ndarray(index_frame(index), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(TruncatedVideoError) as caught:
        open_video(path)
    assert_one_line(caught.value, "index_last.mp4")


def test_no_audio_video_opens_and_plays(tmp_path):
    path = write_cfr_video(tmp_path / "silent.mp4", 40, audio_hz=None)
    with open_video(path) as video:
        assert not video.has_audio
        assert [decode_index(video.frame(i)) for i in (0, 17, 39)] == [0, 17, 39]


def test_all_errors_are_media_errors():
    for error_type in (VideoNotFoundError, NotAVideoError, TruncatedVideoError, EmptyVideoError):
        assert issubclass(error_type, MediaError)
