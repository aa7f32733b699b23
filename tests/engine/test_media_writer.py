"""The mp4 writer: exact variable-rate timing, audio, validation, and atomic output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.media import VideoWriter, load_audio, open_video
from tests.engine.media_fixtures import HEIGHT, WIDTH, decode_index, index_frame, tone

REPO = Path(__file__).resolve().parents[2]


def test_cfr_file_has_h264_aac_and_the_frames(tmp_path):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, (WIDTH, HEIGHT), 10.0, gop=5) as writer:
        for index in range(30):
            writer.add_frame(index_frame(index))
            writer.add_audio(tone(300, 0.1, 16000))  # chunks interleaved with frames
    with open_video(path) as video:
        assert video.frame_count == 30 and video.fps == pytest.approx(10.0)
        assert video.has_audio
        assert [decode_index(video.frame(i)) for i in range(30)] == list(range(30))
        assert video._stream.codec_context.name == "h264"  # noqa: SLF001 - checking the codec written
    assert abs(len(load_audio(path)) - 3 * 16000) <= 1024


def test_vfr_timestamps_survive_exactly(tmp_path):
    times = [0.0, 0.013, 0.2, 0.21, 1.5, 1.517, 3.0]
    path = tmp_path / "vfr.mp4"
    with VideoWriter(path, (WIDTH, HEIGHT), audio_rate=None) as writer:
        for index, seconds in enumerate(times):
            writer.add_frame(index_frame(index), pts_seconds=seconds)
    with open_video(path) as video:
        np.testing.assert_allclose(video.frame_times, times, atol=1e-5)


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / "odd.mp4", (321, 240))
    with VideoWriter(tmp_path / "ok.mp4", (WIDTH, HEIGHT), audio_rate=None) as writer:
        with pytest.raises(ValueError):
            writer.add_frame(np.zeros((HEIGHT, WIDTH), np.uint8))
        writer.add_frame(index_frame(0), pts_seconds=1.0)
        with pytest.raises(ValueError, match="increase"):
            writer.add_frame(index_frame(1), pts_seconds=1.0)
        with pytest.raises(ValueError, match="no audio"):
            writer.add_audio(np.zeros(100, np.float32))


def test_exception_inside_with_leaves_no_file(tmp_path):
    path = tmp_path / "failed.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, (WIDTH, HEIGHT)) as writer:
        writer.add_frame(index_frame(0))
        raise RuntimeError("generator crashed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_killed_write_leaves_no_partial_file(tmp_path):
    path = tmp_path / "killed.mp4"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.media import VideoWriter
        from tests.engine.media_fixtures import HEIGHT, WIDTH, index_frame
        writer = VideoWriter({str(path)!r}, (WIDTH, HEIGHT))
        for index in range(60):
            writer.add_frame(index_frame(index))
        print("written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "written" in result.stdout
    assert result.returncode == -signal.SIGKILL
    assert not path.exists()
    assert not [p for p in os.listdir(tmp_path) if not p.startswith(".")]
