"""Model inputs (engine.media.sampling): exact frames, keyframe-snapped fast frames with their
true times, and audio spans that are sample-exact however the track is split among threads."""

from __future__ import annotations

import sys
from fractions import Fraction

import av
import numpy as np
import pytest

from engine.media import NoAudioError, VideoNotFoundError, frame_share, load_audio, open_video, sampling
from engine.media.frame_index import _demux_index
from engine.media.mp4_index import sample_table_times
from engine.media.sampling import sample_audio, sample_frames, video_frame_count
from tests.engine.media_fixtures import (
    HEIGHT,
    WIDTH,
    decode_index,
    index_frame,
    vfr_times,
    write_cfr_video,
    write_joined_audio,
    write_vfr_video,
)

FRAMES = 400
GOP = 50


@pytest.fixture(autouse=True)
def pipeline_short_audio(monkeypatch):
    """These tracks last seconds: let `workers=2` pipeline them as it does a long track."""
    monkeypatch.setattr(sampling, "MIN_PIPELINED_AUDIO_SECONDS", 0.5)


@pytest.fixture(scope="module")
def cfr_path(tmp_path_factory):
    """16 s, 25 fps, a keyframe every 50 frames, 44.1 kHz audio (resampled to 16 kHz by the sampler)."""
    return write_cfr_video(tmp_path_factory.mktemp("sampling") / "cfr.mp4", FRAMES, gop=GOP, audio_rate=44100)


@pytest.fixture(scope="module")
def vfr_path(tmp_path_factory):
    return write_vfr_video(tmp_path_factory.mktemp("sampling") / "vfr.mp4", vfr_times(300), gop=GOP)


@pytest.fixture(scope="module")
def bframes_path(tmp_path_factory):
    """x264 "medium" with a fixed B-frame pattern (reordered presentation; half the frames are never
    referenced, so the decoder skips them unless wanted): the sample table alone is not enough here."""
    path = tmp_path_factory.mktemp("sampling") / "bframes.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "medium", "crf": "28", "x264-params": "keyint=40:min-keyint=40:bframes=3:b-adapt=0"}
        for index in range(200):
            frame = av.VideoFrame.from_ndarray(index_frame(index), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def exact_frames(path, indices):
    with open_video(path, read_ahead=0) as video:
        return [video.frame(i) for i in indices]


@pytest.mark.parametrize("which", ["cfr_path", "vfr_path", "bframes_path"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_frames_equal_the_frame_accurate_reader(which, workers, request):
    path = request.getfixturevalue(which)
    count = video_frame_count(path)
    rng = np.random.default_rng(workers)
    indices = [int(i) for i in rng.integers(0, count, 30)] + [0, count - 1, 7, 7]
    sampled = sample_frames(path, indices, workers=workers)
    assert list(sampled.indices) == indices
    expected = exact_frames(path, indices)
    assert all(np.array_equal(got, want) for got, want in zip(sampled.frames, expected, strict=True))
    assert [decode_index(f) for f in sampled.frames] == indices
    with open_video(path, read_ahead=0) as video:
        assert np.allclose(sampled.times, video.frame_times[indices])


@pytest.fixture
def sharing(monkeypatch):
    """Make sample_frames share the groups with a helper process even for these small files."""
    monkeypatch.setattr(sampling, "idle_cores", lambda: 2)
    monkeypatch.setattr(sampling, "SHARED_DECODE_MIN_PIXELS", 0)
    decoded_here: list[int] = []
    real = frame_share.decode_group
    monkeypatch.setattr(frame_share, "decode_group",
                        lambda container, stream, group, store: decoded_here.append(group.keyframe_pts)
                        or real(container, stream, group, store))
    return decoded_here


@pytest.mark.skipif(not frame_share.available(), reason="needs memfd (Linux)")
@pytest.mark.parametrize("which", ["cfr_path", "vfr_path", "bframes_path"])
def test_frames_shared_with_a_helper_process_are_exact(which, request, sharing, monkeypatch):
    path = request.getfixturevalue(which)
    count = video_frame_count(path)
    indices = [int(i) for i in np.random.default_rng(4).integers(0, count, 30)] + [0, count - 1, 7, 7]
    monkeypatch.setattr(frame_share, "_work_through", lambda *args: None)  # here: wait, the helper does every group
    sampled = sample_frames(path, indices)
    assert sharing == []  # nothing was decoded here
    assert all(np.array_equal(got, want) for got, want in zip(sampled.frames, exact_frames(path, indices), strict=True))
    assert all(not frame.flags.writeable for frame in sampled.frames)


@pytest.mark.skipif(not frame_share.available(), reason="needs memfd (Linux)")
def test_shared_frames_shrink_like_the_single_decoder(cfr_path, sharing):
    indices = [10, 99, 260, 399]
    single = sample_frames(cfr_path, indices, max_pixels=160 * 120, workers=1)
    shared = sample_frames(cfr_path, indices, max_pixels=160 * 120)
    assert all(a.shape == (120, 160, 3) and np.array_equal(a, b) for a, b in zip(shared.frames, single.frames,
                                                                                strict=True))


FAKE_HELPER = """
import json, mmap, sys, time
job = json.loads(sys.stdin.read())
groups = job["layout"]["groups"]
buffer = mmap.mmap(job["fd"], 4096)
buffer[:groups] = bytes([2]) * groups  # claims every group as the helper's, then fails
"""


@pytest.mark.skipif(not frame_share.available(), reason="needs memfd (Linux)")
@pytest.mark.parametrize("failure", ["cannot start", "dies after claiming", "hangs after claiming"])
def test_a_failing_helper_costs_time_not_frames(cfr_path, sharing, monkeypatch, failure):
    indices = [5, 60, 130, 210, 399]
    if failure == "cannot start":
        monkeypatch.setattr(frame_share, "_helper_command", lambda: ["/nonexistent/python"])
    else:
        script = FAKE_HELPER + ("sys.exit(1)" if failure == "dies after claiming" else "time.sleep(60)")
        monkeypatch.setattr(frame_share, "_helper_command", lambda: [sys.executable, "-c", script])
        monkeypatch.setattr(frame_share, "HELPER_GRACE_SECONDS", 1.0)
        monkeypatch.setattr(frame_share, "_work_through", lambda *args: None)  # let the fake claim everything
    sampled = sample_frames(cfr_path, indices)
    assert len(sharing) == len({i // GOP for i in indices})  # every group was decoded here in the end
    assert all(np.array_equal(got, want) for got, want in zip(sampled.frames, exact_frames(cfr_path, indices),
                                                              strict=True))


def test_fast_seek_uses_the_nearest_keyframe_and_reports_its_true_time(vfr_path):
    with open_video(vfr_path, read_ahead=0) as video:
        times = video.frame_times
        keyframes = np.flatnonzero(video.frame_index.keyframe)
    wanted = [3, 30, 90, 140, 299]
    sampled = sample_frames(vfr_path, wanted, fast_seek=True, workers=2)
    nearest = [int(keyframes[np.argmin(np.abs(keyframes - i))]) for i in wanted]
    assert list(sampled.indices) == nearest
    assert [decode_index(f) for f in sampled.frames] == nearest  # the content is the frame it says
    assert np.allclose(sampled.times, times[nearest])
    assert not np.allclose(sampled.times, times[wanted])  # so the prompt must state these times


def test_max_pixels_shrinks_while_decoding(cfr_path):
    sampled = sample_frames(cfr_path, [10, 260], max_pixels=160 * 120)
    full = exact_frames(cfr_path, [10, 260])
    for small, big in zip(sampled.frames, full, strict=True):
        assert small.shape == (120, 160, 3)
        assert decode_index(np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)) == decode_index(big)


def test_a_truncated_file_gives_its_decodable_frames(cfr_path, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(cfr_path.read_bytes()[: cfr_path.stat().st_size * 2 // 3])
    with open_video(cut, read_ahead=0) as video:
        assert video.truncated
        last_good = video.frame_count - 1
        expected = [video.frame(5), video.frame(last_good)]
    sampled = sample_frames(cut, [5, FRAMES - 1], workers=2)  # indices past the end are clamped
    assert list(sampled.indices) == [5, last_good]
    assert all(np.array_equal(a, b) for a, b in zip(sampled.frames, expected, strict=True))


@pytest.mark.parametrize("which", ["cfr_path", "vfr_path"])
def test_sample_table_index_is_the_demuxed_index(which, request):
    path = request.getfixturevalue(which)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        table = sample_table_times(path, container, stream)
        demuxed = _demux_index(container, stream)
    assert table is not None
    pts, keyframe, end_pts = table
    assert np.array_equal(pts, demuxed.pts) and np.array_equal(keyframe, demuxed.keyframe)
    assert end_pts == demuxed.end_pts


def test_reordered_or_cut_files_are_demuxed_instead(bframes_path, cfr_path, tmp_path):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(cfr_path.read_bytes()[: cfr_path.stat().st_size // 2])
    for path in (bframes_path, cut):
        with av.open(str(path)) as container:
            assert sample_table_times(path, container, container.streams.video[0]) is None


def test_audio_pipelined_is_sample_exact_and_is_the_playback_readers(cfr_path):
    whole = sample_audio(cfr_path, 0.0, None, workers=1)
    assert len(whole) == pytest.approx(FRAMES / 25 * 16000, abs=2048)
    assert np.array_equal(sample_audio(cfr_path, 0.0, None, workers=2), whole)
    assert np.array_equal(load_audio(cfr_path, 16000), whole)  # the playback reader's samples


def test_audio_pipelines_only_when_two_cores_are_idle(cfr_path, monkeypatch):
    stages: list[str] = []
    real_stage = sampling._in_background
    monkeypatch.setattr(sampling, "_in_background", lambda items: stages.append("decode thread") or real_stage(items))
    monkeypatch.setattr(sampling, "idle_cores", lambda: 1)
    single = sample_audio(cfr_path, 0.0, None)
    assert stages == []
    monkeypatch.setattr(sampling, "idle_cores", lambda: 2)
    assert np.array_equal(sample_audio(cfr_path, 0.0, None), single) and stages == ["decode thread"]


def test_audio_window_is_the_slice_of_the_whole_track(cfr_path):
    whole = sample_audio(cfr_path, 0.0, None, workers=1)
    start, end = 3.21, 11.9
    window = sample_audio(cfr_path, start, end, workers=2)
    assert len(window) == round((end - start) * 16000)
    first = round(start * 16000)
    assert np.array_equal(window, whole[first : first + len(window)])
    assert len(sample_audio(cfr_path, 15.0, 99.0)) == len(whole) - 15 * 16000


@pytest.fixture(scope="module")
def joined_path(tmp_path_factory):
    """One 1 s stereo 44.1 kHz AAC segment copied at 0, 1.0 and 2.25 s without re-encoding: the
    second copy starts 956 source samples before the first one's decoded audio ends (44 frames of
    1024), the third leaves a gap of 0.2 s."""
    return write_joined_audio(tmp_path_factory.mktemp("joined") / "joined.mp4", 1.0, [0.0, 1.0, 2.25])


def test_audio_of_joined_files_is_laid_on_its_timestamps(joined_path):
    """Sample-exact (np.array_equal) against the playback reader, and each copy where its timestamps put it."""
    whole = sample_audio(joined_path, 0.0, None, workers=1)
    assert np.array_equal(whole, load_audio(joined_path, 16000))
    assert np.array_equal(sample_audio(joined_path, 0.0, None, workers=2), whole)
    decoded_end = 2.25 + 44 * 1024 / 44100
    assert len(whole) == round(decoded_end * 16000)
    first_copy_end = round((1.0 + 44 * 1024 / 44100) * 16000)
    assert not np.any(whole[first_copy_end + 32 : 36000 - 32])  # the gap is silence
    assert min(np.sqrt(np.mean(whole[a : a + 800] ** 2)) for a in (31000, 36400)) > 0.1  # tones either side
    for copy_start in (16000, 36000):  # 1.0 s and 2.25 s: the same content, unshifted
        np.testing.assert_allclose(whole[copy_start + 600 : copy_start + 15000], whole[600:15000], atol=2e-3)
    window = sample_audio(joined_path, 0.9, 2.4)
    assert np.array_equal(window, whole[14400 : 14400 + len(window)]) and len(window) == 24000


def test_damaged_or_cut_audio_reads_the_same_in_both_readers(joined_path, tmp_path):
    """Packets the decoder rejects are skipped (their time stays silent) and the track goes on; a file
    cut short ends where its data ends. load_audio and sample_audio agree on both."""
    whole = sample_audio(joined_path, 0.0, None)
    data = bytearray(joined_path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 600] = np.random.default_rng(0).integers(0, 256, 600, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(joined_path.read_bytes()[: len(data) * 2 // 3])
    for path in (damaged, cut):
        samples = sample_audio(path, 0.0, None)
        assert np.array_equal(samples, load_audio(path, 16000))
        assert np.array_equal(samples[:8000], whole[:8000]) and not np.array_equal(samples, whole)
    assert len(sample_audio(damaged, 0.0, None)) == len(whole)


def test_a_millisecond_time_base_is_not_mistaken_for_joins(joined_path, tmp_path):
    """Matroska rounds each AAC frame's time to the millisecond (up to 22 samples off): no sample may be
    dropped or added for that."""
    plain = write_joined_audio(tmp_path / "plain.mp4", 1.5, [0.0])
    remuxed = tmp_path / "plain.mkv"
    with av.open(str(plain)) as source, av.open(str(remuxed), "w", format="matroska") as out:
        target = out.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = target
                out.mux(packet)
    with av.open(str(remuxed)) as container:
        assert container.streams.audio[0].time_base == Fraction(1, 1000)
    expected = sample_audio(plain, 0.0, None)
    assert np.array_equal(sample_audio(remuxed, 0.0, None), expected)
    assert np.array_equal(load_audio(remuxed, 16000), expected)


def test_user_errors_are_typed_media_errors(tmp_path, vfr_path):
    with pytest.raises(VideoNotFoundError):
        sample_frames(tmp_path / "missing.mp4", [0])
    with pytest.raises(VideoNotFoundError):
        sample_audio(tmp_path / "missing.mp4", 0.0, 1.0)
    with pytest.raises(NoAudioError):
        sample_audio(vfr_path, 0.0, 1.0)  # the VFR fixture has no audio track
