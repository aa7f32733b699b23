"""Audio really plays: a PulseAudio null sink stands in for the sound card, the studio's playback
code plays 5 s of a video into it, and the sink's monitor recording is compared with the file.

Needs Debian's `pulseaudio`, `pulseaudio-utils` (parec, pactl) and `libasound2-plugins` (ALSA's
pulse plugin, through which PortAudio reaches the server); skips with the reason where they are
missing or the server cannot start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from engine.media.audio import load_audio
from engine.media.writer import VideoWriter
from tests.engine.media_fixtures import index_frame

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="PulseAudio null sink: Linux")]

SR = 16000
PLAY_SECONDS = 5.0
WINDOW = 3200  # 200 ms of recording matched against the file
SEARCH_SECONDS = 1.0
MAX_CLOCK_GAP = 0.040
PLAYER = Path(__file__).with_name("play_through_sink.py")
SINK = "avr_test_sink"


@dataclass(frozen=True)
class PulseServer:
    env: dict[str, str]
    sink: str


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio daemon with a null sink; stopped at the end."""
    missing = [tool for tool in ("pulseaudio", "parec", "pactl") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: pulseaudio pulseaudio-utils libasound2-plugins)")
    runtime = tmp_path_factory.mktemp("xdg_runtime")
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PULSE_SINK": SINK}
    started = subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", f"--load=module-null-sink sink_name={SINK}",
         "--load=module-native-protocol-unix"], env=env, capture_output=True, text=True, timeout=30)
    if started.returncode != 0:
        pytest.skip(f"PulseAudio could not start: {started.stderr.strip().splitlines()[-1:]}")
    try:
        _wait_for_server(env)
        yield PulseServer(env, SINK)
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)


def _wait_for_server(env: dict[str, str]) -> None:
    deadline = time.monotonic() + 10
    while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            pytest.skip("PulseAudio started but does not answer pactl")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def noise_video(tmp_path_factory) -> Path:
    """7 s of band-limited noise (no period, so every 200 ms window has one place in the file)."""
    from scipy.signal import butter, sosfilt

    noise = np.random.default_rng(0).standard_normal(7 * SR)
    audio = (0.3 * sosfilt(butter(6, 3500, fs=SR, output="sos"), noise)).astype(np.float32)
    path = tmp_path_factory.mktemp("audio_device") / "noise.mp4"
    with VideoWriter(path, (64, 48), 10.0, audio_rate=SR) as writer:
        writer.add_audio(audio)
        for index in range(70):
            writer.add_frame(index_frame(index, 64, 48))
    return path


class MonitorRecording:
    """`parec` on the sink's monitor; each read is stamped so a sample maps to a monotonic time."""

    def __init__(self, server: PulseServer) -> None:
        self.process = subprocess.Popen(
            ["parec", "-d", f"{server.sink}.monitor", f"--rate={SR}", "--channels=1", "--format=float32le",
             "--latency-msec=5", "--raw"], env=server.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.reads: list[tuple[float, int, np.ndarray]] = []  # (time of read, samples so far, samples)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        total = 0
        while chunk := self.process.stdout.read(640):
            samples = np.frombuffer(chunk[: len(chunk) // 4 * 4], np.float32)
            total += len(samples)
            self.reads.append((time.monotonic(), total, samples))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._thread.join(10)

    def samples(self) -> np.ndarray:
        return np.concatenate([r[2] for r in self.reads]) if self.reads else np.zeros(0, np.float32)

    def time_of_first_sample(self) -> float:
        """A sample is captured no later than the read that returned it: the earliest bound wins."""
        return min(t - n / SR for t, n, _ in self.reads)


def locate(recorded: np.ndarray, reference: np.ndarray, near: float) -> tuple[float, float]:
    """Where in the file (seconds) a window of recording comes from, and how well it matches (0..1)."""
    from scipy.signal import correlate

    lo = max(0, round((near - SEARCH_SECONDS) * SR))
    span = reference[lo : round((near + SEARCH_SECONDS) * SR) + len(recorded)]
    scores = correlate(span, recorded, mode="valid")
    best = int(np.argmax(scores))
    energy = np.linalg.norm(recorded) * np.linalg.norm(span[best : best + len(recorded)])
    return (lo + best) / SR, float(scores[best] / energy) if energy > 0 else 0.0


@dataclass(frozen=True)
class Playback:
    report: dict
    recorded: np.ndarray
    first_sample_at: float
    reference: np.ndarray

    def windows(self) -> tuple[np.ndarray, np.ndarray]:
        """For every 10th video-clock tick: (heard file time - clock time, match) of the 200 ms heard then."""
        clock = np.array(self.report["clock"])  # (monotonic time, playhead seconds)
        gaps, matches = [], []
        for wall, position in clock[(clock[:, 1] > 0.2) & (clock[:, 1] < PLAY_SECONDS - 0.4)][::10]:
            start = round((wall - self.first_sample_at) * SR)
            window = self.recorded[start : start + WINDOW]
            if len(window) < WINDOW:
                continue
            heard_at, match = locate(window, self.reference, position)
            matches.append(match)
            gaps.append(heard_at - position)
        return np.array(gaps), np.array(matches)


@pytest.fixture(scope="module")
def playback(pulse, noise_video) -> Playback:
    """5 s played once through the studio's code into the null sink, recorded from its monitor."""
    recording = MonitorRecording(pulse)
    time.sleep(0.3)
    try:
        played = subprocess.run([sys.executable, str(PLAYER), str(noise_video), str(PLAY_SECONDS)],
                                env=pulse.env, capture_output=True, text=True, timeout=60)
        time.sleep(0.3)
    finally:
        recording.stop()
    assert played.returncode == 0, played.stderr[-2000:]
    report = json.loads(played.stdout.strip().splitlines()[-1])
    return Playback(report, recording.samples(), recording.time_of_first_sample(), load_audio(noise_video, sr=SR))


def test_the_studio_plays_the_files_audio_on_the_device(playback):
    assert not playback.report["muted"], f"the studio chose no sound device: {playback.report['note']}"
    assert playback.report["device"] in ("pulse", "default")
    assert playback.report["clock"][-1][1] > PLAY_SECONDS - 0.5
    gaps, matches = playback.windows()
    assert len(matches) > 20
    # What the sink received is the file's audio (resampled twice: a near-perfect match).
    assert np.median(matches) > 0.9, f"median match {np.median(matches):.2f}"
    assert (matches > 0.8).mean() > 0.9, f"{(matches <= 0.8).sum()} of {len(matches)} windows do not match"


def test_what_is_heard_is_where_the_video_clock_is(playback):
    gaps, matches = playback.windows()
    heard = gaps[matches > 0.8]
    assert len(heard) > 20
    worst = float(np.abs(heard).max())
    assert worst <= MAX_CLOCK_GAP, (
        f"audio heard {1000 * np.median(heard):+.0f} ms from the video clock (median), worst {1000 * worst:.0f} ms")
