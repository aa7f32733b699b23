"""Regression tests for the defects of the hands-on review (issue 10, section 2) and the studio
defects of the engine-hardening issue (issue 7, items 13 and 14). Each failed on the code before."""

from __future__ import annotations

import json
import shutil

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from avr_studio.models.edits import with_box, with_interval
from engine.parsing import parse_clue
from engine.scoring import gt_frame_times
from tests.studio.conftest import items_of, wait_presented

LONG_REASON = "x" * 3000  # one unbreakable word, as a raw count-parser error of a thinking answer


def test_1_no_content_changes_the_windows_minimum_size(qtbot, window, tiny_bench):
    before = window.minimumSizeHint().width()
    panel = window.wcs_panel
    for item in tiny_bench.items:
        for run in window.session.runs:
            window.selection.select_run(run.name)
            window.selection.select_item(item.index)
            assert window.minimumSizeHint().width() == before
    panel.failure.setText(f"instruction-following failure: {LONG_REASON}")
    panel.title.setText(LONG_REASON)
    panel.count_line.setText(LONG_REASON)
    qtbot.wait(10)
    assert window.minimumSizeHint().width() == before < 1400
    assert panel.minimumSizeHint().width() < 500


def test_2_runs_a_and_b_are_never_the_same(qtbot, window):
    browser = window.browser
    a, b = window.selection.run_name, window.selection.compare_name
    assert a != b and None not in (a, b)
    browser.compare_box.setCurrentText(a)  # picking A's run in B swaps them
    assert (window.selection.run_name, window.selection.compare_name) == (b, a)
    assert (browser.run_box.currentText(), browser.compare_box.currentText()) == (b, a)
    browser.run_box.setCurrentText(a)
    assert (window.selection.run_name, window.selection.compare_name) == (a, b)


def test_3_scoring_mode_keeps_the_selected_item(qtbot, window, tiny_bench):
    index = tiny_bench.items[5].index
    window.selection.select_item(index)
    window.set_scoring_mode("strict")
    table = window.browser.table
    row = window.browser.proxy.mapToSource(table.currentIndex()).row()
    assert window.selection.item_index == index
    assert window.browser.model.rows[row].index == index
    assert table.selectionModel().isSelected(table.currentIndex())
    window.move_item(1)
    assert window.selection.item_index == tiny_bench.items[6].index


def test_7_wcs_tree_fits_on_attribute_items_and_explains_la_cap(qtbot, window, tiny_bench):
    tree = window.wcs_panel.tree
    for item in items_of(tiny_bench, "attribute"):
        window.selection.select_item(item.index)
        qtbot.wait(10)
        header = tree.header()
        used = sum(header.sectionSize(c) for c in range(header.count()))
        assert used <= tree.viewport().width() + 1
        for c in range(1, header.count()):  # every value column is wide enough for its contents
            assert header.sectionSize(c) >= tree.sizeHintForColumn(c) - 1
    headers = [tree.headerItem().text(c) for c in range(tree.columnCount())]
    for name in ("LA", "CAP"):
        assert tree.headerItem().toolTip(headers.index(name))


def test_8_what_if_text_keeps_the_models_shape_without_float_noise(qtbot, window, tiny_bench):
    item, score, text = None, None, None
    for candidate in items_of(tiny_bench, "object"):
        for run in window.session.runs:
            s = run.clue_score(candidate.index)
            if s is not None and not s.failed and s.parsed.frames:
                item, score, text = candidate, s, run.pred_text("clue", candidate.index)
                window.selection.select_run(run.name)
                break
        if item:
            break
    window.selection.select_item(item.index)
    frame = next(iter(score.parsed.frames))
    x1, y1, x2, y2 = score.parsed.frames[frame][0]
    edited = with_box(score.parsed, None, frame, 0, (x1 + 10.123456789, y1 + 0.1 + 0.2, x2 + 10.1, y2))
    window.edits.set(window.selection.run_name, item.index, edited)
    shown = window.wcs_panel.answer.toPlainText()
    what_if = shown.split("what-if edit (scored):\n")[1].split("\n\nmodel answer:")[0]
    assert "0000000" not in what_if and "9999999" not in what_if
    assert ('"Frame ' in what_if) == ('"Frame ' in text)  # the model's key spelling is kept
    assert what_if.count("\n") >= 2  # pretty-printed
    reread = parse_clue("object", what_if)
    assert reread.frames == edited.frames  # still reads back as the scored geometry


def test_8_edits_are_rounded_to_a_hundredth():
    from engine.results import ParsedClue

    parsed = ParsedClue("event", intervals=((1.0, 2.0),))
    assert with_interval(parsed, 0, (1.000000001, 2.3456789)).intervals == ((1.0, 2.35),)


def test_10_scoring_mode_is_always_shown_and_stale_messages_clear(qtbot, window, tiny_bench):
    assert window.mode_label.text() == "scoring: official"
    window.set_scoring_mode("strict")
    assert window.mode_label.text() == "scoring: strict"
    assert "strict" in window.wcs_panel.totals.text()
    window.show_status("about the previous item")
    window.selection.select_item(tiny_bench.items[2].index)
    assert window.statusBar().currentMessage() == ""


def test_11_load_errors_share_one_dialog(qtbot, window, tmp_path):
    for name in ("a", "b", "c"):
        window.add_predictions(tmp_path / f"missing-{name}")
    dialogs = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert len(dialogs) == 1
    for name in ("a", "b", "c"):
        assert f"missing-{name}" in dialogs[0].text()


def test_12_tests_use_their_own_settings_scope(tmp_path_factory):
    """The studio's default QSettings (used by `avr-studio` itself) point into the test session's
    temporary folder, never into the user's real configuration."""
    from PySide6.QtCore import QCoreApplication

    QCoreApplication.setOrganizationName("avr-studio")
    QCoreApplication.setApplicationName("AV-Reasoner Studio")
    settings = QSettings()
    assert str(tmp_path_factory.getbasetemp()) in settings.fileName()


def test_issue7_13_truncated_video_still_draws_overlays_of_the_decodable_part(qtbot, window, tiny_bench, tmp_path):
    item = next(i for i in tiny_bench.items if i.category != "event" and len(gt_frame_times(i)) >= 2)
    times = gt_frame_times(item)
    folder = tmp_path / "videos"
    shutil.copytree(tiny_bench.videos_dir, folder)
    video = folder / item.video
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * 0.55)])
    window.open_videos(folder)
    window.selection.select_item(item.index)
    window.playhead.seek(times[0])
    qtbot.waitUntil(lambda: window.player.info is not None, timeout=5000)
    info = window.player.info
    assert info.duration > times[0] and times[-1] > info.duration  # a clue frame lies in the cut part
    wait_presented(qtbot, window)
    assert [b for b in window.player.overlay.boxes if b.role == "gt"]


def test_issue7_14_waveform_loads_after_choosing_another_videos_folder(qtbot, tiny_bench, tmp_path):
    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from tests.studio.conftest import close_and_delete

    dataset = tmp_path / "elsewhere" / "dataset.json"
    dataset.parent.mkdir()
    dataset.write_text(json.dumps([i.raw for i in tiny_bench.items]))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     audio_output=NullAudioOutput("Muted: test"))
    qtbot.addWidget(win)
    try:
        win.open_dataset(dataset)  # selects the first item: its audio is not beside the dataset
        win.open_videos(tiny_bench.videos_dir)
        expected = tiny_bench.videos_dir / tiny_bench.items[0].video
        assert win.timeline.audio_path == expected
        qtbot.waitUntil(lambda: win.timeline.pyramid is not None, timeout=10000)
    finally:
        close_and_delete(win)
