"""The command line: --screenshot, --demo (cached), summary, drag and drop."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from avr_studio.app import build_demo_with_dialog, main
from avr_studio.widgets.summary import SUMMARY_COLUMNS
from engine.demo import demo_is_built
from engine.scoring import group_stats
from tests.studio.conftest import TINY


def test_screenshot_of_a_selected_object_item(tiny_bench, run_dirs, tmp_path, qapp):
    png = tmp_path / "shot.png"
    item = next(i for i in tiny_bench.items if i.category == "object")
    args = ["--dataset", str(tiny_bench.dataset_path), "--videos", str(tiny_bench.videos_dir),
            "--select", str(item.index), "--seek", str(item.clue_times[0]), "--screenshot", str(png),
            "--size", "1280x800"]
    for run in run_dirs:
        args += ["--predictions", str(run)]
    assert main(args) == 0
    image = QImage(str(png))
    assert image.width() >= 1280 and image.height() >= 800


def test_demo_opens_a_cached_demo_folder(tiny_bench, tmp_path, qapp):
    png = tmp_path / "demo.png"
    assert demo_is_built(tiny_bench.dataset_path.parent)
    assert main(["--demo", "--demo-dir", str(tiny_bench.dataset_path.parent), "--screenshot", str(png),
                 "--tab", "summary"]) == 0
    assert png.is_file()


@pytest.mark.slow
def test_demo_build_shows_progress_and_finishes(tmp_path, qapp):
    data = build_demo_with_dialog(tmp_path / "demo", qapp, TINY)
    assert data is not None and data.dataset.is_file() and len(data.runs) >= 2


def test_summary_shows_the_engines_group_stats(qtbot, window):
    window.tabs.setCurrentWidget(window.summary)
    qtbot.waitUntil(lambda: window.summary.table.rowCount() > 0, timeout=5000)
    rows = window.summary.metric_rows()
    run = window.session.runs[0]
    stats = group_stats(run.reports["clue"], window.session.items, key="category", n_boot=500)
    wcs_column = SUMMARY_COLUMNS.index("WCS")
    for name, group in stats.items():
        row = next(r for r in rows if r[0] == run.name and r[1] == "clue" and r[2] == name)
        ci = group.ci["wcs"]
        assert row[wcs_column] == f"{group.metrics['wcs']:.2f}  [{ci.low:.2f}, {ci.high:.2f}]"
        assert row[3] == str(group.n)
    assert {r[1] for r in rows} == {"long", "ref", "clue"}
    window.summary.key.setCurrentText("modality")
    assert {r[2] for r in window.summary.metric_rows()} >= {"all", *window.session.modalities}


def test_drop_dataset_and_run(qtbot, tiny_bench, run_dirs, tmp_path):
    from PySide6.QtCore import QSettings

    from avr_studio.main_window import MainWindow
    from tests.studio.conftest import close_and_delete

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    try:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(run_dirs[0])), QUrl.fromLocalFile(str(tiny_bench.dataset_path))])
        event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)
        win.dropEvent(event)
        assert len(win.session.items) == len(tiny_bench.items)
        assert [r.name for r in win.session.runs] == [run_dirs[0].name]
        assert win.session.videos_dir == tiny_bench.videos_dir  # found next to the dataset
    finally:
        close_and_delete(win)


def test_screenshot_of_the_compare_view(tiny_bench, run_dirs, tmp_path, qapp, capsys):
    png = tmp_path / "compare.png"
    item = next(i for i in tiny_bench.items if i.category == "attribute")
    base = ["--dataset", str(tiny_bench.dataset_path), "--videos", str(tiny_bench.videos_dir), "--size", "1280x800"]
    for run in run_dirs:
        base += ["--predictions", str(run)]
    assert main([*base, "--compare", "thinking,direct", "--select", str(item.index), "--screenshot", str(png)]) == 0
    assert QImage(str(png)).width() >= 1280
    assert main([*base, "--compare", "oracle,direct", "--screenshot", str(png)]) == 2
    err = capsys.readouterr().err
    assert "'oracle' matches 2 runs" in err and "oracle-direct" in err and "oracle-thinking" in err
