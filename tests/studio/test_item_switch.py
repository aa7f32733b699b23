"""Switching items fast: nothing stale after a key held down, the deferred work done once for the
item that stays, views redrawn once per event-loop turn, hidden panels left alone, pooled items."""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from avr_studio.models.navigation import start_time
from avr_studio.models.overlay import frame_boxes, shown_frames
from avr_studio.widgets.item_layer import ItemPool
from avr_studio.widgets.labels import QuietLabel
from engine.scoring import score_clue


def _press(qtbot, window, key, times: int) -> None:
    """Key presses back to back, no event processing in between (a key held down)."""
    window.browser.table.setFocus()
    for _ in range(times):
        qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)


def _wait_settled(qtbot, window, index: int) -> None:
    def settled():
        assert window.item_settled(index)
        frame = window.player.presented
        assert frame is not None and frame.path == window.session.video_path(window.session.item(index))
        assert frame.index == window.player.info.frame_index_at(window.playhead.time)

    qtbot.waitUntil(settled, timeout=10000)


def _count_calls(monkeypatch, obj, name: str) -> list:
    calls: list = []
    original = getattr(obj, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, counted)
    return calls


@pytest.mark.parametrize("compare", [False, True], ids=["single", "compare"])
def test_key_held_down_ends_on_the_last_item_in_every_panel(qtbot, window, tiny_bench, monkeypatch, compare):
    if compare:
        window.compare_runs(window.session.runs[0].name, window.session.runs[1].name)
    window.selection.select_item(tiny_bench.items[0].index)
    _wait_settled(qtbot, window, tiny_bench.items[0].index)
    drawn = _count_calls(monkeypatch, window.timeline, "show_item")
    steps = min(9, len(tiny_bench.items) - 1)
    _press(qtbot, window, Qt.Key.Key_Down, steps)
    last = tiny_bench.items[steps]
    _wait_settled(qtbot, window, last.index)
    qtbot.wait(300)  # anything left over from the items passed would have run by now

    assert window.selection.item_index == last.index
    assert window.browser.current_index() == last.index
    # the frame: the item's video at the item's start
    frame = window.player.presented
    assert frame.path == window.session.video_path(last)
    assert frame.index == window.player.info.frame_index_at(start_time(last))
    # the breakdown: this item's, with the engine's score
    run = window.session.run(window.selection.run_name)
    panel = window.compare_panel if compare else window.wcs_panel
    assert panel.title.text().startswith(f"#{last.index} ")
    expected = score_clue(last, run.pred_text("clue", last.index))
    if compare:
        assert f"A {100 * expected.score:.2f}" in panel.item_scores.text()
    else:
        assert f"{expected.score:.4f}" in panel.item_score.text()
        assert panel.tree_rows()
    # the timeline: this item's tiers, range and playhead
    timeline = window.timeline
    assert timeline.shown_index == last.index and not timeline.pending
    if last.category == "event":
        gt = sorted((iv.start, iv.end) for iv in dict(timeline.rows)["GT"])
        assert gt == sorted((c.start, c.end) for c in last.clue)
    (x0, x1), _ = timeline.wave.viewRange()
    if last.query_interval:
        assert x0 <= last.query_interval[0] and last.query_interval[1] <= x1
    assert timeline.playhead_lines[0].value() == pytest.approx(window.playhead.time)
    # the GT boxes on the frame are this item's, for this frame
    drawn_boxes = window.player.compare_layers["GT"].boxes if compare else window.player.overlay.boxes
    info = window.player.info
    frames = shown_frames(last, frame.time, frame.index, info.fps, info.frame_index_at)
    expected_gt = [(b.box, b.name) for b in frame_boxes(last, None, frames) if b.role == "gt"]
    assert sorted((b.box, b.name) for b in drawn_boxes if b.role == "gt") == sorted(expected_gt)
    # the Notes dock follows the item
    assert window.run_tools.notes.index == last.index
    # the items only passed over were never drawn on the timeline
    assert len(drawn) <= 2, f"timeline drew {len(drawn)} items for one key held down"


def test_key_repeat_up_and_down_ends_where_it_stops(qtbot, window, tiny_bench):
    window.selection.select_item(tiny_bench.items[3].index)
    _wait_settled(qtbot, window, tiny_bench.items[3].index)
    _press(qtbot, window, Qt.Key.Key_Down, 4)
    _press(qtbot, window, Qt.Key.Key_Up, 6)
    target = tiny_bench.items[1]
    _wait_settled(qtbot, window, target.index)
    assert window.wcs_panel.title.text().startswith(f"#{target.index} ")
    assert window.timeline.shown_index == target.index
    assert window.player.presented.index == window.player.info.frame_index_at(start_time(target))


def test_tiers_redrawn_once_for_several_changes(qtbot, window, monkeypatch):
    timeline = window.timeline
    qtbot.waitUntil(lambda: not timeline.pending, timeout=5000)
    drawn = _count_calls(monkeypatch, timeline, "render_tiers")
    a = window.session.runs[0].name
    window.selection.select_compare(a)  # swaps A and B
    window.selection.select_run(a)
    window.selection.set_compare_mode(True)
    assert timeline.pending and not drawn  # nothing drawn yet: once, when the event loop turns
    qtbot.waitUntil(lambda: not timeline.pending, timeout=5000)
    assert len(drawn) == 1
    assert [name for name, _ in timeline.rows][1] == "GT"  # A above GT above B: the compare plan


def test_reading_the_timeline_draws_what_is_pending(qtbot, window, tiny_bench):
    item = next(i for i in tiny_bench.items if i.category == "event" and i.index != window.selection.item_index)
    window.selection.select_item(item.index)
    assert window.timeline.pending  # drawn once the frame is on screen
    gt = dict(window.timeline.rows)["GT"]  # reading it draws it now
    assert not window.timeline.pending and window.timeline.shown_index == item.index
    assert sorted((iv.start, iv.end) for iv in gt) == sorted((c.start, c.end) for c in item.clue)


def test_hidden_wcs_panel_is_redrawn_when_shown(qtbot, window, tiny_bench, monkeypatch):
    window.compare_runs(window.session.runs[0].name, window.session.runs[1].name)
    drawn = _count_calls(monkeypatch, window.wcs_panel, "_draw")
    item = tiny_bench.items[4]
    window.selection.select_item(item.index)
    assert not drawn  # hidden behind the compare panel: nothing built
    window.selection.set_compare_mode(False)
    assert window.wcs_panel.isVisible()
    assert window.wcs_panel.title.text().startswith(f"#{item.index} ")
    assert len(drawn) == 1


def test_item_pool_reuses_items_and_hides_the_rest(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    plot = widget.getPlotItem()
    pool = ItemPool(plot)
    pool.begin()
    first = [pool.take("text", pg.TextItem) for _ in range(3)]
    pool.end()
    pool.begin()
    second = [pool.take("text", pg.TextItem) for _ in range(2)]
    pool.end()
    assert second == first[:2]  # the same objects, in the same order
    assert not first[2].isVisible() and all(item.isVisible() for item in second)
    assert pool._items == second
    pool.begin()
    third = [pool.take("text", pg.TextItem) for _ in range(4)]
    pool.end()
    assert third[:3] == first and third[3] not in first and all(item.isVisible() for item in third)
    assert sum(1 for item in plot.items if isinstance(item, pg.TextItem)) == 4  # made once, kept


class _LayoutRequests(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, _obj, event):  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _layout_requests_on_new_texts(qtbot, label, texts) -> tuple[int, QWidget]:
    parent = QWidget()
    QVBoxLayout(parent).addWidget(label)
    qtbot.addWidget(parent)
    parent.resize(300, 100)
    parent.show()
    qtbot.waitExposed(parent)
    qtbot.wait(50)
    requests = _LayoutRequests()
    parent.installEventFilter(requests)
    for text in texts:
        label.setText(text)
        qtbot.wait(5)
    return requests.count, parent


def test_quiet_label_text_never_re_lays_out_its_parent(qtbot):
    texts = ("a much longer text " * 40, "x" * 3000, "", "two\nlines\nand more")
    assert _layout_requests_on_new_texts(qtbot, QLabel("short"), texts)[0] > 0  # what a QLabel does
    label = QuietLabel("short", lines=2, tooltip=True)
    hint = label.sizeHint()
    count, _parent = _layout_requests_on_new_texts(qtbot, label, texts)
    assert count == 0
    assert label.text() == texts[-1] and label.toolTip() == texts[-1]
    assert label.sizeHint() == hint
    label.setText("word " * 200)
    lines = label.shown_lines()
    assert len(lines) == 2 and lines[-1].endswith("…")  # cut to its two lines, the last elided
    assert all(label.fontMetrics().horizontalAdvance(line) <= label.contentsRect().width() for line in lines)
