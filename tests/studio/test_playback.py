"""Decoding off the GUI thread, the playback clock, audio fallbacks."""

from __future__ import annotations

import random
import time

import pytest
from PySide6.QtCore import QTimer

from avr_studio.models import Playhead
from avr_studio.playback.audio_out import NullAudioOutput, SoundDeviceOutput, create_audio_output
from avr_studio.playback.playback import PlaybackController
from tests.studio.conftest import wait_presented


class LatencyProbe:
    """A 5 ms timer on the GUI thread; the largest gap between its ticks is the worst stall."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        self.ticks += 1

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.timer.stop()


def test_gui_thread_never_stalls_while_scrubbing(qtbot, window, tiny_bench):
    window.selection.select_item(tiny_bench.items[0].index)
    wait_presented(qtbot, window)
    duration = window.playhead.duration
    rng = random.Random(0)
    requests = 0
    presented = []
    window.player.worker.frame_ready.connect(lambda frame: presented.append(frame.index))

    def scrub() -> None:
        nonlocal requests
        requests += 1
        window.playhead.seek(rng.uniform(0, duration))

    scrubber = QTimer()
    scrubber.setInterval(3)
    scrubber.timeout.connect(scrub)
    with LatencyProbe() as probe:
        scrubber.start()
        qtbot.wait(1500)
        scrubber.stop()
        wait_presented(qtbot, window)
        before_burst = len(presented)
        for _ in range(50):  # a burst faster than any decoder: one event-loop turn, 50 seeks
            scrub()
        wait_presented(qtbot, window)
        shown_from_burst = len(presented) - before_burst
        for item in tiny_bench.items[:6]:  # switching items opens other videos
            window.selection.select_item(item.index)
            qtbot.wait(60)
    wait_presented(qtbot, window)
    assert probe.ticks > 100
    assert before_burst > 10  # frames were really decoded and shown while scrubbing
    assert 1 <= shown_from_burst <= 5  # stale requests were dropped, not queued
    assert probe.max_gap < 0.050, f"GUI thread stalled {probe.max_gap * 1000:.1f} ms"


def test_playback_follows_the_clock_and_keeps_overlays_on_the_shown_frame(qtbot, window, tiny_bench):
    window.selection.select_item(tiny_bench.items[3].index)
    window.playhead.seek(0.0)
    wait_presented(qtbot, window)
    window.playhead.set_speed(2.0)
    with LatencyProbe() as probe:
        window.playhead.set_playing(True)
        qtbot.wait(600)
        window.playhead.set_playing(False)
    assert 0.6 < window.playhead.time < 2.0  # ~1.2 s of video in 0.6 s at 2x
    frame = wait_presented(qtbot, window)
    info = window.player.info
    assert frame.time == pytest.approx(info.frame_time(info.frame_index_at(window.playhead.time)))
    assert probe.max_gap < 0.050


def test_loop_keeps_playback_inside_the_interval(qtbot, window, tiny_bench):
    item = next(i for i in tiny_bench.items if i.category == "event")
    window.selection.select_item(item.index)
    clue = item.clue[0]
    window.shortcut_actions["loop_clue"].trigger()
    assert window.playhead.loop == (clue.start, clue.end)
    seen = []
    window.playhead.time_changed.connect(seen.append)
    window.playhead.set_speed(4.0)
    window.playhead.set_playing(True)
    qtbot.wait(2.5 * 1000 * (clue.end - clue.start) / 4 + 200)
    window.playhead.set_playing(False)
    assert seen and all(clue.start <= t <= clue.end + 0.05 for t in seen)
    assert min(seen) < clue.start + 0.1  # it wrapped back at least once


def test_null_output_is_a_wall_clock():
    output = NullAudioOutput("muted")
    output.start(10.0, speed=2.0)
    time.sleep(0.1)
    position = output.position()
    output.stop()
    assert 10.15 < position < 10.4
    assert output.position() == pytest.approx(position, abs=0.01)


def test_no_sound_card_runs_muted_with_a_note(qtbot):
    import sounddevice as sd

    output = create_audio_output()
    if len(sd.query_devices()):
        pytest.skip("this machine has a sound device")
    assert output.muted and "no audio output device" in output.note
    # a real sounddevice output asked to play here is refused, and playback carries on muted
    playhead = Playhead()
    playhead.set_media(10.0, 25.0)
    controller = PlaybackController(playhead, SoundDeviceOutput(sd))
    notes = []
    controller.status.connect(notes.append)
    playhead.set_playing(True)
    qtbot.wait(150)
    playhead.set_playing(False)
    controller.shutdown()
    assert notes and notes[0].startswith("Muted:")
    assert playhead.time > 0.05


def test_window_status_bar_says_muted(qtbot, tiny_bench, tmp_path):
    from PySide6.QtCore import QSettings

    from avr_studio.main_window import MainWindow
    from tests.studio.conftest import close_and_delete

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    try:
        if win.playback.output.muted:
            assert win.audio_note.text().startswith("Muted:")
    finally:
        close_and_delete(win)


def test_thread_leak_check_sees_a_running_decode_worker(qtbot):
    """The autouse leak check finds QThreads by scanning live objects: prove it sees a worker."""
    from avr_studio.playback.decode_worker import DecodeWorker
    from tests.studio.conftest import _running_qthreads

    worker = DecodeWorker()
    worker.start()
    qtbot.waitUntil(worker.isRunning, timeout=2000)
    assert worker in _running_qthreads()
    worker.stop()
    assert worker not in _running_qthreads()


def test_neighbouring_items_are_decoded_ahead(qtbot, window, tiny_bench):
    """After an item's frame is shown, the next row's opening frame is in the pooled video's cache."""
    from avr_studio.models.navigation import start_time

    first, second = tiny_bench.items[0], tiny_bench.items[1]
    window.selection.select_item(first.index)
    wait_presented(qtbot, window)
    pool = window.player.worker._pool
    path = window.session.video_path(second)

    def cached():
        video = pool._videos.get(path)
        assert video is not None and video.is_cached(video.frame_index_at(start_time(second)))

    qtbot.waitUntil(cached, timeout=10000)
