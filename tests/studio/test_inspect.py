"""The inspect view on the tiny benchmark: what is drawn and shown equals the engine's numbers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from avr_studio.models.edits import with_interval
from engine.parsing import split_reasoning
from engine.scoring import clue_report, gt_frame_times, score_clue, score_parsed
from tests.studio.conftest import items_of, open_unreadable_videos, wait_presented


def select(qtbot, win, index: int, t: float | None = None):
    win.selection.select_item(index)
    if t is not None:
        win.playhead.seek(t)
    return wait_presented(qtbot, win)


def engine_score(win, item):
    run = win.session.run(win.selection.run_name)
    return score_clue(item, run.pred_text("clue", item.index))


@pytest.mark.parametrize("category", ["event", "object", "attribute"])
def test_panel_numbers_equal_the_engine(qtbot, window, tiny_bench, category):
    for item in items_of(tiny_bench, category)[:2]:
        select(qtbot, window, item.index)
        expected = engine_score(window, item)
        panel = window.wcs_panel
        assert panel.shown.score == expected.score
        assert f"{expected.score:.4f}" in panel.item_score.text()
        rows = panel.tree_rows()
        shown_ious = [r[1] for r in rows if r[2]]  # instance rows carry an outcome
        engine_ious = [f"{m.iou:.3f}" for c in expected.clusters for f in c.frames for m in f.matches]
        assert shown_ious == engine_ious
        if expected.failed:
            assert expected.reason in panel.failure.text()
        _thinking, answer = split_reasoning(window.session.run(window.selection.run_name).pred_text("clue", item.index))
        assert panel.answer.toPlainText() == answer


@pytest.mark.parametrize("category", ["object", "attribute"])
def test_boxes_drawn_on_the_frame_of_their_timestamp(qtbot, window, tiny_bench, category):
    item = items_of(tiny_bench, category)[0]
    t = gt_frame_times(item)[0]
    frame = select(qtbot, window, item.index, t)
    info = window.player.info
    assert frame.time == pytest.approx(info.frame_time(info.frame_index_at(t)))
    gt_boxes = [b for b in window.player.overlay.boxes if b.role == "gt"]
    expected = [c for c in (item.clue if category == "object" else [b for cl in item.clue for b in cl]) if c.timestamp == t]
    assert len(gt_boxes) == len(expected)
    score = engine_score(window, item)
    if not score.failed:
        drawn = sorted(round(b.iou, 9) for b in window.player.overlay.boxes if b.role == "pred" and b.iou is not None)
        engine = sorted(round(m.iou, 9) for c in score.clusters for f in c.frames if f.frame == 0
                        for m in f.matches if m.gt is not None and m.pred is not None and m.iou > 0)
        assert drawn == engine
        assert len(window.player.overlay.rois) == sum(1 for b in window.player.overlay.boxes if b.role == "pred")
    # two frames later the clue's boxes are gone: overlays follow the presented frame
    window.playhead.seek(info.frame_time(info.frame_index_at(t) + 2))
    wait_presented(qtbot, window)
    assert not [b for b in window.player.overlay.boxes if b.frame == 0]


def test_event_timeline_tiers_match_the_engine(qtbot, window, tiny_bench):
    item = items_of(tiny_bench, "event")[0]
    select(qtbot, window, item.index)
    names = [name for name, _ in window.timeline.rows]
    assert names == ["GT", *[r.name for r in window.session.runs if r.has_clues]]
    gt_row = window.timeline.rows[0][1]
    assert [(iv.start, iv.end) for iv in gt_row] == [(c.start, c.end) for c in item.clue]
    score = engine_score(window, item)
    if not score.failed:
        regions = window.timeline.regions
        assert sorted(regions) == list(range(len(score.parsed.intervals)))
        for slot, region in regions.items():
            assert region.getRegion() == pytest.approx(score.parsed.intervals[slot])


def test_what_if_interval_drag_rescored_live(qtbot, window, tiny_bench):
    run = window.session.run(window.selection.run_name)
    item = next(i for i in items_of(tiny_bench, "event") if run.clue_score(i.index).parsed.intervals)
    select(qtbot, window, item.index)
    before = window.scores.totals(run.name).wcs
    region = window.timeline.regions[0]
    target = (item.clue[0].start, item.clue[0].end)
    region.setRegion(target)  # what a drag of both edges does
    expected = score_parsed(item, with_interval(run.clue_score(item.index).parsed, 0, target))
    assert window.wcs_panel.shown.score == expected.score
    assert f"{expected.score:.4f}" in window.wcs_panel.item_score.text()
    totals = clue_report([window.scores.clue_score(run.name, i) for i in run.reports["clue"].per_item])
    assert f"WCS {totals.wcs:.2f}" in window.wcs_panel.totals.text()
    assert totals.wcs != before or expected.score == run.clue_score(item.index).score
    row = window.browser.model.rows[window.browser.model.row_of(item.index)]
    assert row.wcs == pytest.approx(100 * expected.score)
    window.wcs_panel.reset_button.click()
    assert window.wcs_panel.shown.score == run.clue_score(item.index).score
    assert window.timeline.regions[0].getRegion() == pytest.approx(run.clue_score(item.index).parsed.intervals[0])


def test_what_if_box_drag_rescored_live(qtbot, window, tiny_bench):
    run = window.session.run(window.selection.run_name)
    item = next(i for i in items_of(tiny_bench, "object") if run.clue_score(i.index).parsed.frames.get(0))
    select(qtbot, window, item.index, gt_frame_times(item)[0])
    overlay = window.player.overlay
    slot = next(iter(overlay.rois))
    gt_box = item.clue[0].bbox
    overlay.drag_to(slot, gt_box)
    parsed = run.clue_score(item.index).parsed
    frames = {f: list(b) for f, b in parsed.frames.items()}
    frames[slot[1]][slot[2]] = tuple(float(v) for v in gt_box)
    from dataclasses import replace

    expected = score_parsed(item, replace(parsed, frames=frames))
    assert window.wcs_panel.shown.score == pytest.approx(expected.score, abs=1e-12)
    assert window.scores.edits.has(run.name, item.index)
    assert slot in overlay.rois  # the dragged ROI survives the live re-score
    window.shortcut_actions["undo_edit"].trigger()
    assert not window.scores.edits.has(run.name, item.index)


def test_keyboard_transport(qtbot, window, tiny_bench):
    item = items_of(tiny_bench, "event")[0]
    select(qtbot, window, item.index, 3.0)
    info = window.player.info
    start = info.frame_index_at(window.playhead.time)
    window.browser.table.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert info.frame_index_at(window.playhead.time) == start + 1
    assert window.playhead.time == pytest.approx(info.frame_time(start + 1))
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert window.playhead.time == pytest.approx(info.frame_time(start + 1) + 5.0)
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert window.playhead.time == pytest.approx(info.frame_time(start + 1))
    window.playhead.seek(0.0)
    qtbot.keyClick(window, Qt.Key.Key_BracketRight)
    assert window.playhead.time == item.clue_times[0]
    qtbot.keyClick(window, Qt.Key.Key_Q)
    assert window.playhead.loop == item.query_interval
    assert window.transport.buttons["loop_query"].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_Q)
    assert window.playhead.loop is None
    qtbot.keyClick(window, Qt.Key.Key_Plus)
    assert window.playhead.speed == 1.5
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.playhead.playing
    qtbot.wait(200)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.playhead.playing


def test_timeline_double_click_zooms_to_the_interval(qtbot, window, tiny_bench):
    item = items_of(tiny_bench, "event")[0]
    select(qtbot, window, item.index)
    gt = item.clue[0]
    assert window.timeline.zoom_to_interval_at((gt.start + gt.end) / 2, window.timeline._row_y(0, len(window.timeline.rows)) + 0.3)
    (x0, x1), _ = window.timeline.wave.viewRange()
    assert x0 < gt.start and x1 > gt.end and (x1 - x0) < 3 * (gt.end - gt.start) + 2


def test_waveform_requeried_for_the_visible_window(qtbot, window, tiny_bench):
    select(qtbot, window, tiny_bench.items[0].index)
    qtbot.waitUntil(lambda: window.timeline.pyramid is not None, timeout=10000)
    window.timeline.zoom_to(2.0, 4.0)
    queries = window.timeline.wave_queries
    qtbot.waitUntil(lambda: window.timeline.wave_queries > queries, timeout=2000)
    xs, _ys = window.timeline.wave_curve.getData()
    assert xs.min() >= 1.0 and xs.max() <= 5.0
    assert len(xs) <= 2 * max(16, int(window.timeline.wave.getViewBox().width())) + 2


def test_missing_video_shows_placeholder_and_panel_still_works(qtbot, window, tiny_bench, tmp_path):
    window.open_videos(tmp_path)  # an empty folder: every video is missing
    item = items_of(tiny_bench, "object")[0]
    window.selection.select_item(item.index)
    assert window.player.stack.currentWidget() is window.player.placeholder
    assert window.player.placeholder.text() == f"video not found: {tmp_path / item.video}"
    assert window.wcs_panel.shown.score == engine_score(window, item).score


def test_bad_inputs_give_a_dialog_and_keep_the_app(qtbot, window, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert not window.open_dataset(bad)
    assert "not valid JSON" in window.last_error
    assert "not valid JSON" in window.statusBar().currentMessage()
    dialogs = [w for w in window.findChildren(QMessageBox) if w.isVisible()]
    assert dialogs and "not valid JSON" in dialogs[-1].text()
    assert not window.add_predictions(tmp_path / "nowhere")
    assert "no such file" in window.last_error
    assert len(window.session.items) > 0  # what was open is still open


def test_corrupt_video_shows_the_media_error(qtbot, window, tiny_bench, tmp_path):
    open_unreadable_videos(qtbot, window, tiny_bench, tmp_path / "videos", select=3)
    assert window.player.placeholder.text()
    assert window.wcs_panel.shown is not None


def test_help_dialog_lists_shortcuts(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F1)
    text = window.help_dialog.findChild(type(window.wcs_panel.answer)).toPlainText()
    for key in ("Space", "Shift+Left", "[", "]"):
        assert key in text
    window.help_dialog.close()


def test_recent_files_remembered(window, tiny_bench):
    assert str(tiny_bench.dataset_path.resolve()) in window.recent_paths()
    assert window.recent_menu.actions()


def test_runs_disagree_filter(qtbot, window, tiny_bench):
    browser = window.browser
    browser.outcome.setCurrentText("runs disagree")
    shown = {browser.model.rows[browser.proxy.mapToSource(browser.proxy.index(r, 0)).row()].index
             for r in range(browser.proxy.rowCount())}
    a, b = window.session.runs[0], window.session.runs[1]
    expected = set()
    for item in tiny_bench.items:
        ca, cb = a.count_score(item.index), b.count_score(item.index)
        sa, sb = a.clue_score(item.index), b.clue_score(item.index)
        if ca.count != cb.count or sa.failed != sb.failed or abs(sa.score - sb.score) >= 0.1:
            expected.add(item.index)
    assert shown == expected
    browser.outcome.setCurrentText("all")
    browser.proxy.sort(7, Qt.SortOrder.DescendingOrder)
    wcs = [browser.model.rows[browser.proxy.mapToSource(browser.proxy.index(r, 0)).row()].wcs
           for r in range(browser.proxy.rowCount())]
    assert wcs == sorted(wcs, reverse=True)


def test_breakdown_row_seeks_to_its_frame(qtbot, window, tiny_bench):
    run = window.session.run(window.selection.run_name)
    item = next(i for i in items_of(tiny_bench, "object") if not run.clue_score(i.index).failed)
    select(qtbot, window, item.index)
    window.playhead.seek(0.0)
    frame_row = window.wcs_panel.tree.topLevelItem(0).child(0)
    window.wcs_panel.tree.setCurrentItem(frame_row)
    assert window.playhead.time == gt_frame_times(item)[0]
    frame = wait_presented(qtbot, window)
    assert [b for b in window.player.overlay.boxes if b.role == "gt"]
    assert frame.index == window.player.info.frame_index_at(gt_frame_times(item)[0])


def _event_timeline_zoomed(qtbot, window, tiny_bench):
    """The first event item selected, its timeline zoomed to 2-8 s."""
    select(qtbot, window, items_of(tiny_bench, "event")[0].index)
    window.timeline.zoom_to(2.0, 8.0, margin_fraction=0)
    qtbot.wait(50)
    return window.timeline


def _viewport_point(timeline, plot, x: float, y: float):
    """Widget coordinates of data point (x, y) on one of the timeline's plots."""
    from PySide6.QtCore import QPointF

    return timeline.graphics.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(x, y)))


def test_clicking_the_timeline_seeks(qtbot, window, tiny_bench):
    timeline = _event_timeline_zoomed(qtbot, window, tiny_bench)
    pos = _viewport_point(timeline, timeline.tiers, 5.0, 0.2)
    qtbot.mouseClick(timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.playhead.time == pytest.approx(5.0, abs=0.1)


def test_dragging_on_the_waveform_scrubs(qtbot, window, tiny_bench):
    timeline = _event_timeline_zoomed(qtbot, window, tiny_bench)
    before = timeline.wave.viewRange()[0]
    viewport = timeline.graphics.viewport()
    start = _viewport_point(timeline, timeline.wave, 3.0, 0.0)
    end = _viewport_point(timeline, timeline.wave, 6.0, 0.0)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 11):
        qtbot.mouseMove(viewport, start + (end - start) * k / 10)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert window.playhead.time == pytest.approx(6.0, abs=0.15)
    assert timeline.wave.viewRange()[0] == pytest.approx(before, abs=1e-6)  # scrubbing, not panning


def test_timeline_window_slider_follows_and_sets_the_view(qtbot, window, tiny_bench):
    select(qtbot, window, items_of(tiny_bench, "event")[0].index)
    window.timeline.zoom_to(3.0, 6.0, margin_fraction=0)
    low, high = window.timeline.window_slider.value()
    (x0, x1), _ = window.timeline.wave.viewRange()
    assert (low, high) == pytest.approx((x0, x1), abs=0.01) and x0 < 3.0 and x1 > 6.0
    window.timeline.window_slider.setValue((8.0, 12.0))
    (x0, x1), _ = window.timeline.wave.viewRange()
    assert (x0, x1) == pytest.approx((8.0, 12.0), abs=0.01)
