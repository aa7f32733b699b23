"""Studio tests: offscreen Qt, a tiny synthetic benchmark built once per session."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from engine.synth import SynthConfig, generate_benchmark  # noqa: E402

TINY = SynthConfig(videos=2, minutes=0.3, width=320, height=180, with_predictions=True)


@pytest.fixture(scope="session", autouse=True)
def own_settings_scope(tmp_path_factory):
    """QSettings() (File > Recent, ...) write into this session's temporary folder, never into the
    user's real configuration."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_bench")
    return generate_benchmark(out, TINY)


@pytest.fixture(scope="session")
def run_dirs(tiny_bench) -> list[Path]:
    return sorted(p for p in tiny_bench.predictions_dir.iterdir() if p.is_dir())


@pytest.fixture
def window(qtbot, tiny_bench, run_dirs, tmp_path):
    """The main window on the tiny benchmark with every run loaded, muted by a real null output."""
    from PySide6.QtCore import QSettings

    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from avr_studio.style import apply_style

    apply_style(qtbot_app())  # the studio's own style sheet: sizes as users see them
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, audio_output=NullAudioOutput("Muted: test"))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.open_dataset(tiny_bench.dataset_path)
    assert win.open_videos(tiny_bench.videos_dir)
    for run in run_dirs:
        assert win.add_predictions(run)
    yield win
    close_and_delete(win)


def qtbot_app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


def close_and_delete(widget) -> None:
    """Close, delete now (not at interpreter exit, where pyqtgraph items can abort the process)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    widget.close()
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


def wait_presented(qtbot, win, t: float | None = None, timeout: int = 5000):
    """Wait until the player shows the frame containing t (default: the playhead time)."""
    target = win.playhead.time if t is None else t

    def shown():
        frame = win.player.presented
        assert frame is not None and win.player.info is not None
        assert frame.index == win.player.info.frame_index_at(target)

    qtbot.waitUntil(shown, timeout=timeout)
    return win.player.presented


def open_unreadable_videos(qtbot, win, bench, folder: Path, select: int) -> None:
    """Point the window at a videos folder where every item's video is junk, select item
    `select` and wait for the player's placeholder (the media error) to show."""
    folder.mkdir()
    for item in bench.items:
        (folder / item.video).write_bytes(b"this is not an mp4 file" * 10)
    win.open_videos(folder)
    win.selection.select_item(bench.items[select].index)
    qtbot.waitUntil(lambda: win.player.stack.currentWidget() is win.player.placeholder, timeout=5000)


def items_of(bench, category: str):
    return [item for item in bench.items if item.category == category]


def _running_qthreads() -> list:
    from PySide6.QtCore import QThread

    found = []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, QThread) and obj.isRunning():
                found.append(obj)
        except RuntimeError:  # the C++ object is already gone
            continue
    return found


@pytest.fixture(autouse=True)
def no_threads_left_running(request):
    """A test must stop every thread it started (Python threads and QThreads), as napari's suite
    demands: a thread left running keeps decoding into a closed window."""
    import threading
    import time

    before = set(threading.enumerate())
    qt_before = set(map(id, _running_qthreads())) if "qtbot" in request.fixturenames else set()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        # foreign (Qt) threads show up as never-ending _DummyThread entries: the QThread check covers them
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()
                and not isinstance(t, threading._DummyThread)]
        qt_left = [t for t in _running_qthreads() if id(t) not in qt_before] if "qtbot" in request.fixturenames else []
        if not (left or qt_left) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"test left threads running: {[t.name for t in left]}"
    assert not qt_left, f"test left QThreads running: {[type(t).__name__ for t in qt_left]}"
