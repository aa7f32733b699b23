"""The spectrogram tier on a real video: beeps drawn in their rows, only the newest range drawn,
nothing computed while hidden, a clear note for a silent video."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from avr_studio.widgets.spectrogram_tier import SpectrogramTier, frequency_ticks
from engine.media.spectrogram import BIN_HZ, SAMPLE_RATE
from engine.media.writer import VideoWriter
from engine.synth.sound import BEEP_HZ
from tests.engine.media_fixtures import index_frame, tone, write_cfr_video


@pytest.fixture(scope="module")
def beep_video(tmp_path_factory):
    """low beep [0, 2) s, high beep [3, 5) s, silence elsewhere; 8 s."""
    path = tmp_path_factory.mktemp("tier") / "beeps.mp4"
    gap = np.zeros(SAMPLE_RATE, np.float32)
    audio = np.concatenate([tone(BEEP_HZ["low beep"], 2, SAMPLE_RATE), gap, tone(BEEP_HZ["high beep"], 2, SAMPLE_RATE),
                            gap, gap, gap])
    with VideoWriter(path, (64, 48), 10.0, audio_rate=SAMPLE_RATE) as writer:
        writer.add_audio(audio)
        for index in range(80):
            writer.add_frame(index_frame(index, 64, 48))
    return path


@pytest.fixture
def tier(qtbot, tmp_path):
    view = pg.GraphicsLayoutWidget()
    qtbot.addWidget(view)
    plot = SpectrogramTier(cache_dir=tmp_path / "cache")
    view.addItem(plot)
    view.resize(800, 200)
    view.show()
    plot.setXRange(0, 8, padding=0)
    yield plot
    plot.shutdown()


def row_of(hz: float) -> int:
    return int(np.argmin(np.abs(BIN_HZ - hz)))


def test_the_tier_draws_the_beeps_in_their_rows(qtbot, tier, beep_video):
    with qtbot.waitSignal(tier.drawn, timeout=10000):
        tier.set_media(beep_video)
    spec = tier.shown
    assert spec.start <= 0.0 and spec.end >= 8.0
    image = tier.image.image
    assert image.shape == spec.db.shape  # rows = mel bins, columns = time
    # colour-map indices made on the worker thread: the loudest cell at the top of the map, 80 dB
    # below it at the bottom (the image is drawn through the map's table, not rescaled per paint)
    assert image.dtype == np.uint8 and image.max() == 255
    assert image[np.unravel_index(np.argmax(spec.db), spec.db.shape)] == 255
    assert (image[spec.db <= spec.db.max() - 80.0] == 0).all()
    assert abs(spec.loudest_bin_at(1.0) - row_of(BEEP_HZ["low beep"])) <= 1
    assert abs(spec.loudest_bin_at(4.0) - row_of(BEEP_HZ["high beep"])) <= 1
    rect = tier.image.mapRectToParent(tier.image.boundingRect())
    assert rect.left() == pytest.approx(spec.start) and rect.width() == pytest.approx(spec.end - spec.start)
    assert rect.height() == pytest.approx(len(BIN_HZ))


def test_zooming_fetches_the_new_range_at_a_finer_level(qtbot, tier, beep_video):
    tier.getViewWidget().resize(250, 200)  # 8 s in ~150 px: a coarse level
    with qtbot.waitSignal(tier.drawn, timeout=10000):
        tier.set_media(beep_video)
    coarse = tier.shown.column_seconds
    with qtbot.waitSignal(tier.drawn, timeout=10000):
        tier.setXRange(3.0, 3.5, padding=0)
    assert tier.shown.column_seconds < coarse
    assert tier.shown.start <= 3.0 and tier.shown.end >= 3.5
    assert tier.shown.end - tier.shown.start < 2.0  # the visible range, not the file


def test_a_burst_of_range_changes_draws_only_the_last(qtbot, tier, beep_video):
    with qtbot.waitSignal(tier.drawn, timeout=10000):
        tier.set_media(beep_video)
    before = tier.requests
    drawn = []
    tier.drawn.connect(drawn.append)
    for k in range(30):
        tier.setXRange(k * 0.1, k * 0.1 + 2.0, padding=0)
        qtbot.wait(5)
    qtbot.waitUntil(lambda: bool(drawn) and drawn[-1].start <= 2.9 and drawn[-1].end >= 4.9, timeout=10000)
    qtbot.wait(200)
    assert tier.requests - before < 30  # bursts were coalesced / dropped, not queued
    assert drawn[-1].start <= 2.9 and drawn[-1].end >= 4.9


def test_a_hidden_tier_computes_nothing(qtbot, tier, beep_video):
    tier.set_enabled(False)
    tier.set_media(beep_video)
    tier.setXRange(1, 3, padding=0)
    qtbot.wait(300)
    assert tier.requests == 0 and tier.shown is None
    with qtbot.waitSignal(tier.drawn, timeout=10000):
        tier.set_enabled(True)


def test_a_silent_video_says_so(qtbot, tier, tmp_path):
    path = write_cfr_video(tmp_path / "silent.mp4", 10, audio_hz=None)
    with qtbot.waitSignal(tier.status, timeout=10000) as blocker:
        tier.set_media(path)
    assert blocker.args == ["no audio track"]
    assert tier.note.toPlainText() == "no audio track"


def test_frequency_ticks_are_in_order_and_labelled():
    ticks = frequency_ticks()
    rows = [row for row, _ in ticks]
    assert rows == sorted(rows)
    assert [label for _, label in ticks] == ["100", "440", "1.76k", "5k"]
