"""Frame-accurate video access on generated files whose frames encode their own index."""

from __future__ import annotations

import gc
import sys
import threading
import time

import numpy as np
import pytest

from engine.media import FrameOutOfRangeError, MediaError, open_video, uniform_frame_indices
from tests.engine.media_fixtures import decode_index, vfr_times, write_cfr_video, write_vfr_video

CFR_FRAMES = 600
VFR_FRAMES = 600


@pytest.fixture(scope="module")
def cfr_path(tmp_path_factory):
    return write_cfr_video(tmp_path_factory.mktemp("cfr") / "cfr.mp4", CFR_FRAMES, gop=50)


@pytest.fixture(scope="module")
def vfr_written_times():
    return vfr_times(VFR_FRAMES)


@pytest.fixture(scope="module")
def vfr_path(tmp_path_factory, vfr_written_times):
    return write_vfr_video(tmp_path_factory.mktemp("vfr") / "vfr.mp4", vfr_written_times, gop=250)


def random_times_inside_frames(video, count: int, seed: int) -> list[tuple[float, int]]:
    """(time, expected frame) pairs: a random point inside a random frame's display interval."""
    rng = np.random.default_rng(seed)
    ends = np.append(video.frame_times[1:], video.duration)
    pairs = []
    for _ in range(count):
        index = int(rng.integers(0, video.frame_count))
        start, end = video.frame_times[index], ends[index]
        pairs.append((float(start + rng.uniform(0.0, 0.999) * (end - start)), index))
    return pairs


@pytest.mark.parametrize("which", ["cfr_path", "vfr_path"])
def test_200_random_frame_at_calls_return_the_right_frame(which, request):
    with open_video(request.getfixturevalue(which)) as video:
        wrong = [
            (t, index, decode_index(video.frame_at(t)))
            for t, index in random_times_inside_frames(video, 200, seed=3)
            if decode_index(video.frame_at(t)) != index
        ]
    assert wrong == []


def test_cfr_description(cfr_path):
    with open_video(cfr_path) as video:
        assert video.frame_count == CFR_FRAMES
        assert video.fps == pytest.approx(25.0)
        assert video.duration == pytest.approx(CFR_FRAMES / 25.0)
        assert video.size == (320, 240)
        assert video.has_audio
        assert not video.truncated
        frame = video.frame_at(1.0)
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8


def test_vfr_table_matches_written_times(vfr_path, vfr_written_times):
    with open_video(vfr_path) as video:
        assert video.frame_count == VFR_FRAMES
        np.testing.assert_allclose(video.frame_times, vfr_written_times, atol=1e-4)


@pytest.mark.parametrize("which", ["cfr_path", "vfr_path"])
def test_frame_time_and_frame_index_at_agree(which, request):
    with open_video(request.getfixturevalue(which)) as video:
        for index in range(video.frame_count):
            start = video.frame_time(index)
            assert video.frame_index_at(start) == index
            end = video.frame_time(index + 1) if index + 1 < video.frame_count else video.duration
            assert video.frame_index_at((start + end) / 2) == index
        assert video.frame_index_at(video.duration) == video.frame_count - 1


def test_single_frame_steps_forward_and_back(vfr_path):
    with open_video(vfr_path) as video:
        index = video.frame_index_at(video.duration / 2)
        for step in [1] * 10 + [-1] * 25:
            index += step
            assert decode_index(video.frame_at(video.frame_time(index))) == index


def test_out_of_range_requests_raise(cfr_path):
    with open_video(cfr_path) as video:
        with pytest.raises(FrameOutOfRangeError):
            video.frame_at(video.duration + 1.0)
        with pytest.raises(FrameOutOfRangeError):
            video.frame_at(-0.5)
        with pytest.raises(FrameOutOfRangeError):
            video.frame(video.frame_count)


def test_uniform_sampling_follows_the_benchmark_convention(vfr_path):
    with open_video(vfr_path) as video:
        sample = video.sample_uniform(50)
        expected = np.linspace(0, video.frame_count - 1, 50).round().astype(int)
        np.testing.assert_array_equal(sample.indices, expected)
        np.testing.assert_array_equal(sample.times, video.frame_times[expected])
        assert [decode_index(f) for f in sample.frames] == expected.tolist()


def test_uniform_sampling_of_a_short_video_repeats_frames(tmp_path):
    with open_video(write_cfr_video(tmp_path / "short.mp4", 20, audio_hz=None)) as video:
        sample = video.sample_uniform(50)
        assert len(sample.frames) == 50
        assert sample.indices[0] == 0 and sample.indices[-1] == 19
        assert [decode_index(f) for f in sample.frames] == sample.indices.tolist()
    assert uniform_frame_indices(0, 50).size == 0


def test_frames_at_keeps_the_requested_order(cfr_path):
    with open_video(cfr_path) as video:
        times = [20.0, 0.5, 11.3, 0.5, 3.99]
        frames = video.frames_at(times)
        assert [decode_index(f) for f in frames] == [video.frame_index_at(t) for t in times]


def test_returned_frames_are_read_only(cfr_path):
    with open_video(cfr_path) as video:
        with pytest.raises(ValueError):
            video.frame(3)[0, 0, 0] = 1


def test_read_ahead_fills_the_frames_after_a_request(cfr_path):
    with open_video(cfr_path, read_ahead=8) as video:
        video.frame(100)
        deadline = time.monotonic() + 5.0
        while not all(video.is_cached(i) for i in range(101, 109)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert all(video.is_cached(i) for i in range(101, 109))
        assert decode_index(video.frame(105)) == 105


def test_concurrent_callers_get_the_right_frames(vfr_path):
    wrong: list[tuple[int, int]] = []
    with open_video(vfr_path) as video:

        def worker(seed: int) -> None:
            for t, index in random_times_inside_frames(video, 40, seed):
                got = decode_index(video.frame_at(t))
                if got != index:
                    wrong.append((index, got))

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    assert wrong == []


def read_ahead_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "video-read-ahead" and t.is_alive())


def test_close_stops_the_read_ahead_thread_and_refuses_new_frames(cfr_path):
    before = read_ahead_threads()
    video = open_video(cfr_path)
    video.frame(10)
    assert read_ahead_threads() == before + 1
    video.close()
    video.close()
    assert read_ahead_threads() == before
    with pytest.raises(MediaError):
        video.frame(400)


def test_opening_decodes_nothing(cfr_path):
    with open_video(cfr_path) as video:
        assert not any(video.is_cached(i) for i in range(video.frame_count))


def wait_until_inside(thread: threading.Thread, function: str, timeout: float = 10.0) -> bool:
    """Whether `thread` reached a call of `function` (read from its live stack) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(thread.ident)
        while frame is not None:
            if frame.f_code.co_name == function:
                return True
            frame = frame.f_back
        time.sleep(0.005)
    return False


def test_video_finalised_on_its_read_ahead_thread_stops_cleanly(cfr_path, monkeypatch):
    """Issue 7 defect 12: when the read-ahead thread held the last reference, __del__ ran there and
    raised "cannot join current thread"."""
    problems: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: problems.append(repr(info.exc_value)))
    monkeypatch.setattr(threading, "excepthook", lambda args: problems.append(repr(args.exc_value)))
    video = open_video(cfr_path, read_ahead=4)
    reader = video._read_ahead
    decoder_lock = video._lock
    with decoder_lock:  # the read-ahead step blocks on this lock while holding a strong reference
        reader.request(0)
        assert wait_until_inside(reader._thread, "_decode_ahead")
        del video
        gc.collect()
    reader._thread.join(timeout=5.0)
    assert not reader._thread.is_alive()
    assert problems == []


def test_a_seek_converts_only_the_frame_asked_for(cfr_path, monkeypatch):
    """Issue 7: converting the ~2 s kept behind every random seek to RGB was the fixed per-seek cost.
    Those frames now stay as decoded (YUV) and are converted, exactly, only when asked for."""
    import engine.media.color as color

    converted: list[int] = []
    real = color.frame_to_rgb
    monkeypatch.setattr("engine.media.video.frame_to_rgb", lambda frame: converted.append(1) or real(frame))
    with open_video(cfr_path, read_ahead=0) as video:
        assert decode_index(video.frame(240)) == 240
        assert len(converted) == 1
        assert video.is_cached(239) and video.is_cached(205)  # kept for backward steps...
        for index in (239, 220, 205):
            frame = video.frame(index)  # ...and converted on demand, without decoding again
            assert decode_index(frame) == index and not frame.flags.writeable
        assert video.frame(239) is video.frame(239)
