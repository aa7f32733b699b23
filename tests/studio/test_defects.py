"""Regression tests for the defects of the hands-on review (issue 10, section 2) and the studio
defects of the engine-hardening issue (issue 7, items 13 and 14). Each failed on the code before."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from avr_studio.models.edits import with_box, with_interval
from engine.parsing import parse_clue
from engine.scoring import gt_frame_times
from tests.studio.conftest import items_of, open_unreadable_videos, wait_presented

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


def _failing_item(window, tiny_bench, category: str | None = None):
    """An item and run whose clue answer the engine could not read."""
    for item in tiny_bench.items:
        for run in window.session.runs:
            score = run.clue_score(item.index)
            if (category is None or item.category == category) and score is not None and score.failed:
                return item, run
    raise AssertionError("the tiny benchmark has no unreadable clue answer")


def test_4_unreadable_note_stays_in_view_on_zoom_and_pan(qtbot, window, tiny_bench):
    window.set_scoring_mode("official")
    item, run = _failing_item(window, tiny_bench)
    window.selection.select_run(run.name)
    window.selection.select_item(item.index)
    notes = [n for n in window.timeline.painter.notes if "unreadable" in n.toPlainText()]
    assert notes
    for start, end in ((11.0, 14.0), (2.0, 3.0)):
        window.timeline.zoom_to(start, end, margin_fraction=0)
        qtbot.wait(50)
        (x0, x1), _ = window.timeline.tiers.viewRange()
        assert x0 > 1.0  # the view really moved away from where the note was drawn
        assert all(x0 <= n.pos().x() < x1 for n in notes)


def _tick_items(timeline):
    import pyqtgraph as pg

    return [i for i in timeline.painter.layer._items if isinstance(i, pg.ScatterPlotItem)]


def test_5_frame_ticks_take_the_engines_frame_outcome(qtbot, window, tiny_bench):
    from engine.results import FrameScore, InstanceMatch

    frame = FrameScore(0, 1.0, 3, 1, 0.3, 0.33, 0.1, (
        InstanceMatch(0, 0, 0.9, "matched"), InstanceMatch(1, None, 0.0, "missed"), InstanceMatch(2, None, 0.0, "missed")))
    assert frame.outcome == "missed"  # 2 of 3 GT boxes missed is not "matched, IoU < 0.5"
    item = next(i for i in items_of(tiny_bench, "attribute") if len(i.clue) >= 2)
    run = window.session.run(window.selection.run_name)
    window.selection.select_item(item.index)
    window.timeline.flush()
    score = run.clue_score(item.index)
    gt_scatter = _tick_items(window.timeline)[0]
    points = gt_scatter.points()
    gt_total = sum(len(frames) for frames in __import__("engine.scoring", fromlist=["x"]).gt_frames_by_cluster(item))
    assert len(points) == gt_total  # one tick per cluster and frame
    assert len({(p.pos().x(), p.pos().y()) for p in points}) == gt_total  # none drawn over another
    from avr_studio.palette import kind_colour
    if not score.failed:
        expected = {(c.gt_cluster, f.frame): f.outcome for c in score.clusters for f in c.frames}
        colours = {p.pen().color().name().upper() for p in points}
        assert colours <= {kind_colour(k).upper() for k in expected.values()} | {kind_colour("missed").upper()}
        assert kind_colour("gt").upper() not in colours


def test_5_hallucinated_frames_are_counted_on_their_tier(qtbot, window, tiny_bench):
    from avr_studio.models.edits import with_box  # noqa: F401  (edits give a frame with no GT time)

    item = items_of(tiny_bench, "object")[0]
    run = window.session.run(window.selection.run_name)
    window.selection.select_item(item.index)
    score = run.clue_score(item.index)
    from dataclasses import replace

    base = score.parsed if score.parsed is not None and not score.failed else None
    frames = dict(base.frames) if base else {}
    frames[40] = [(1.0, 1.0, 20.0, 20.0)]  # Frame 41: the item has no such GT frame
    from engine.results import ParsedClue

    parsed = replace(base, frames=frames) if base else ParsedClue("object", frames=frames)
    window.edits.set(run.name, item.index, parsed)
    texts = [n.toPlainText() for n in window.timeline.painter.notes]
    assert any("no GT time" in t for t in texts)


def test_14_clues_outside_the_query_interval_are_shown_and_said(qtbot, tiny_bench, tmp_path):
    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from tests.studio.conftest import close_and_delete

    raw = [dict(i.raw) for i in tiny_bench.items]
    target = next(r for r in raw if r["category"] == "event")
    first = min(c["start"] for c in target["clue"])
    target["query_interval"] = [first + 4.0, first + 8.0]  # the first clue lies before it
    dataset = tmp_path / "dataset.json"
    dataset.write_text(json.dumps(raw))
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     audio_output=NullAudioOutput("Muted: test"))
    qtbot.addWidget(win)
    try:
        win.resize(1400, 900)
        win.show()
        win.open_dataset(dataset)
        win.open_videos(tiny_bench.videos_dir)
        messages = []
        win.timeline.status.connect(messages.append)
        win.selection.select_item(target["index"])
        wait_presented(qtbot, win)
        (x0, x1), _ = win.timeline.tiers.viewRange()
        assert x0 <= first and x0 <= win.playhead.time <= x1
        assert win.timeline.outside_query >= 1
        assert any("outside the query interval" in n.toPlainText() for n in win.timeline.painter.notes)
        assert any("outside the query interval" in m for m in messages)
    finally:
        close_and_delete(win)


def test_15_loop_range_and_selected_row_are_drawn(qtbot, window, tiny_bench):
    item = items_of(tiny_bench, "event")[0]
    window.selection.select_item(item.index)
    window.toggle_loop("loop_query")
    region = window.timeline.loop_regions[0]
    assert region.isVisible() and region.getRegion() == pytest.approx(item.query_interval)
    window.toggle_loop("loop_query")
    assert not region.isVisible()
    from avr_studio.models.selection import InstanceRef

    window.selection.select_instance(InstanceRef(0, 0, 0))
    assert window.timeline.instance_spans()
    assert window.timeline._highlight._items


def test_15_dialogs_start_in_the_datasets_folder(window, tiny_bench):
    assert window.dialog_dir() == str(tiny_bench.dataset_path.parent)


def test_15_undo_takes_back_one_drag_not_every_edit(qtbot, window, tiny_bench):
    run = window.session.run(window.selection.run_name)
    item = next(i for i in items_of(tiny_bench, "event") if run.clue_score(i.index).parsed.intervals)
    window.selection.select_item(item.index)
    region = window.timeline.regions[0]
    s, e = region.getRegion()
    for step in (0.1, 0.2, 0.3):  # one drag of the end edge: several moves, then release
        region.lines[1].setValue(e + step)
    region.sigRegionChangeFinished.emit(region)
    first = window.wcs_panel.shown.parsed.intervals[0]
    window.timeline.regions[0].setRegion((s + 1.0, e + 1.0))  # a second drag
    window.timeline.regions[0].sigRegionChangeFinished.emit(window.timeline.regions[0])
    window.shortcut_actions["undo_edit"].trigger()
    assert window.wcs_panel.shown.parsed.intervals[0] == pytest.approx(first)
    window.shortcut_actions["undo_edit"].trigger()
    assert not window.edits.has(run.name, item.index)


def test_15_selected_tree_row_is_outlined_on_the_frame(qtbot, window, tiny_bench):
    from avr_studio.models.selection import InstanceRef

    run = window.session.run(window.selection.run_name)
    item = next(i for i in items_of(tiny_bench, "object")
                if not run.clue_score(i.index).failed and run.clue_score(i.index).clusters[0].frames)
    window.selection.select_item(item.index)
    frame = run.clue_score(item.index).clusters[0].frames[0]
    window.playhead.seek(frame.timestamp)
    wait_presented(qtbot, window)
    window.selection.select_instance(InstanceRef(0, 0, 0))
    match = frame.matches[0]
    chosen = window.player.overlay.selected
    assert chosen and all(b.frame == frame.frame for b in chosen)
    assert {b.index for b in chosen if b.role == "gt"} <= {match.gt}
    assert len(chosen) == (match.gt is not None) + (match.pred is not None)


def test_6_browser_columns_are_on_screen_at_the_default_size(qtbot, window):
    window.resize(1600, 1000)
    for compare in (False, True):
        window.selection.set_compare_mode(compare)
        qtbot.wait(50)
        table = window.browser.table
        header = table.horizontalHeader()
        last = header.count() - 1
        assert header.sectionViewportPosition(last) + header.sectionSize(last) <= table.viewport().width()
        if "question" in window.browser.model.columns:
            assert header.sectionSize(window.browser.model.columns.index("question")) >= 60


def test_9_transport_clock_shows_the_frames_own_time(qtbot, window, tiny_bench):
    from avr_studio.widgets.transport import format_clock

    window.selection.select_item(tiny_bench.items[0].index)
    wait_presented(qtbot, window)
    window.playhead.seek(3.013)  # between two frames
    frame = wait_presented(qtbot, window)
    assert window.transport.clock.text().startswith(format_clock(frame.time, hours=False))


def test_9_no_playing_past_the_end_of_an_unreadable_video(qtbot, window, tiny_bench, tmp_path):
    open_unreadable_videos(qtbot, window, tiny_bench, tmp_path / "videos", select=1)
    window.playhead.toggle_play()
    assert not window.playhead.playing
    assert window.transport.clock.text() == "no video"


def _summary(qtbot, window):
    window.tabs.setCurrentWidget(window.summary)
    qtbot.waitUntil(lambda: window.summary.table.rowCount() > 0, timeout=5000)
    return window.summary


def test_13_scatter_leaves_out_failures_keeps_both_runs_visible_and_clicks_open_items(qtbot, window):
    window.set_scoring_mode("strict")  # both runs' counts are read: their points can overlap
    summary = _summary(qtbot, window)
    for run, item in zip(window.session.runs, summary.scatter_items, strict=True):
        report = run.reports["long"]
        ok = [s for s in report.per_item.values() if s.count is not None]
        assert len(item.points()) == len(ok)  # a parse failure is no point at 0
        assert summary.unplotted[run.name] == len(report.per_item) - len(ok)
    first, second = (set((round(p.pos().x(), 6), round(p.pos().y(), 6)) for p in item.points())
                     for item in summary.scatter_items)
    assert not first & second  # no point of one run hides a point of the other
    legend = summary.legend.sceneBoundingRect()
    for item in summary.scatter_items:
        for point in item.points():
            assert not legend.contains(item.mapToScene(point.pos()))
    point = summary.scatter_items[1].points()[0]
    summary.scatter_items[1].sigClicked.emit(summary.scatter_items[1], [point], None)
    assert window.selection.item_index == point.data()
    assert window.tabs.currentIndex() == 0


def test_13_an_outlier_does_not_squash_the_plot(qtbot, window, tiny_bench, tmp_path):
    raw = [json.dumps({"pred": "100000" if i.index == 0 else str(i.answer), "gt": i.answer, "input": i.raw})
           for i in tiny_bench.items]
    path = tmp_path / "outlier.jsonl"
    path.write_text("\n".join(raw) + "\n")
    window.add_predictions(path)
    summary = _summary(qtbot, window)
    (x0, x1), (y0, y1) = summary.plot.getViewBox().viewRange()
    assert y1 < 1000  # the view is about the counts, not the one huge answer
    outlier = summary.scatter_items[-1]
    assert any(p.symbol() == "t1" for p in outlier.points())  # drawn as an arrow on the edge
