"""The Run panel and the inspection tools inside the main window: a background batch loads as a
run, error totals filter the browser, F walks the failures, tags filter, timestamps seek, the
spectrogram toggles, a killed worker leaves a clear message."""

from __future__ import annotations

import json
import os
import signal

import pytest
from PySide6.QtCore import Qt

from avr_studio.models.error_totals import ALL
from avr_studio.models.failures import failure_stops
from avr_studio.widgets.error_totals import COLUMNS
from tests.studio.stall_probe import StallProbe


@pytest.fixture
def tools(window, tmp_path):
    window.settings.setValue("runs/root", str(tmp_path / "runs"))
    yield window.run_tools


def test_a_background_batch_over_the_filtered_items_loads_as_a_run(qtbot, window, tools, tiny_bench):
    assert tools.docks["Run"].isHidden()  # opened from the View menu
    tools.docks["Run"].toggleViewAction().trigger()
    assert tools.docks["Run"].isVisible()
    window.browser.category.setCurrentText("event")
    shown = window.browser.visible_indices()
    assert 0 < len(shown) < len(tiny_bench.items)
    assert tools.run_panel.run_batch_button.text() == f"Run batch ({len(shown)} items)"
    panel = tools.run_panel
    panel.protocol.setCurrentText("clue")
    before = len(window.session.runs)
    with qtbot.waitSignal(panel.run_ready, timeout=120000):
        with StallProbe() as probe:  # while the model runs, not while the finished run loads
            panel.progress.valueChanged.connect(lambda value: value == len(shown) and probe.stop())
            qtbot.mouseClick(panel.run_batch_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: panel.progress.value() == len(shown), timeout=120000)
    probe.assert_no_stall()
    assert len(window.session.runs) == before + 1
    run = window.session.runs[-1]
    assert run.name == "baseline-direct-clue"
    assert window.selection.run_name == run.name  # shown at once
    assert set(run.reports["clue"].per_item) == set(shown)
    assert window.browser.run_box.currentText() == run.name


def test_a_killed_worker_leaves_the_window_usable(qtbot, window, tools):
    panel = tools.run_panel
    panel.protocol.setCurrentText("long")
    assert panel.run_batch()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60000)
    with qtbot.waitSignal(panel.job.finished, timeout=15000):
        os.kill(panel.job.pid, signal.SIGKILL)
    assert "was killed (SIGKILL)" in window.statusBar().currentMessage()
    window.selection.select_item(window.session.items[3].index)  # still answers
    assert window.run_tools.confirm_close()


def test_error_totals_follow_run_a_and_filter_the_browser(qtbot, window, tools):
    report = window.scores.totals(window.selection.run_name)
    totals = tools.errors.totals
    assert totals is not None and totals.run == window.selection.run_name
    assert totals.n_items[ALL] == len(report.per_item)
    rows = [tools.errors.table.verticalHeaderItem(r).text() for r in range(tools.errors.table.rowCount())]
    tools.errors.table.cellClicked.emit(rows.index(ALL), COLUMNS.index("missed"))
    assert set(window.browser.visible_indices()) == set(totals.items(ALL, "missed"))
    assert window.browser.only_button.isVisible()
    qtbot.mouseClick(window.browser.only_button, Qt.MouseButton.LeftButton)
    assert len(window.browser.visible_indices()) == len(window.session.items)
    other = window.selection.compare_name
    window.selection.select_run(other)
    assert tools.errors.totals.run == other


def test_f_walks_the_failures_of_the_item_then_the_next_failing_item(qtbot, window, tools, tiny_bench):
    run = window.selection.run_name
    order = window.browser.visible_indices()
    failing = [i for i in order if failure_stops(window.session.item(i), window.scores.clue_score(run, i))]
    assert len(failing) >= 2
    first = window.session.item(failing[0])
    window.selection.select_item(first.index)
    window.playhead.seek(0.0)
    stops = failure_stops(first, window.scores.clue_score(run, first.index))
    action = window.shortcut_actions["next_failure"]
    for stop in stops:
        action.trigger()
        assert window.selection.item_index == first.index
        assert window.selection.instance == stop.ref
        if stop.time is not None:
            assert window.playhead.time == pytest.approx(stop.time, abs=0.05)
    action.trigger()  # past the last one: the next failing item in the browser's order
    assert window.selection.item_index == failing[1]
    assert window.selection.instance is not None
    window.shortcut_actions["prev_failure"].trigger()
    assert window.selection.item_index == first.index
    assert window.selection.instance == stops[-1].ref


def test_tags_filter_the_browser_and_timestamps_seek(qtbot, window, tools, tiny_bench):
    tagged = [tiny_bench.items[1].index, tiny_bench.items[4].index]
    for index in tagged:
        window.selection.select_item(index)
        qtbot.keyClicks(tools.notes.tag_input, "ask Li")
        qtbot.keyClick(tools.notes.tag_input, Qt.Key.Key_Return)
    position = tools.tag_filter.findData("ask Li")
    assert tools.tag_filter.itemText(position) == "tagged ask Li (2)"
    tools.tag_filter.setCurrentIndex(position)
    tools.tag_filter.activated.emit(position)
    assert sorted(window.browser.visible_indices()) == sorted(tagged)
    run = window.session.run(window.selection.run_name)
    assert (run.path / "annotations.json").is_file()  # beside the run
    window.selection.select_item(tagged[0])
    qtbot.keyClicks(tools.notes.note, "typed just before closing")
    tools.shutdown()  # as closing the window does
    assert json.loads((run.path / "annotations.json").read_text())["items"][str(tagged[0])]["note"] == (
        "typed just before closing")
    tools.reasoning.show_text("<think>the knock at 3.5 s</think>")
    tools.reasoning.seek_requested.emit(3.5)
    assert window.playhead.time == pytest.approx(3.5, abs=0.05)


def test_the_spectrogram_tier_is_a_toggle(qtbot, window, tools, tiny_bench):
    tier = window.timeline.spectrogram
    assert not tier.enabled and tier.requests == 0
    qtbot.waitUntil(lambda: tier.geometry().height() < 1, timeout=3000)  # hidden: no empty row
    window.selection.select_item(tiny_bench.items[0].index)
    with qtbot.waitSignal(tier.drawn, timeout=20000):
        tools.spectrogram_action.setChecked(True)
    assert tier.isVisible() and tier.shown is not None
    assert window.settings.value("view/spectrogram", type=bool)
    assert tier.geometry().height() > 20
    tools.spectrogram_action.setChecked(False)
    assert not tier.isVisible()
    qtbot.waitUntil(lambda: tier.geometry().height() < 1, timeout=3000)  # its row gives the space back


def test_both_reasoning_styles_open_as_a_comparison(qtbot, window, tools, tiny_bench):
    window.selection.select_item(tiny_bench.items[0].index)
    panel = tools.run_panel
    panel.reasoning.setCurrentText("both")
    panel.protocol.setCurrentText("clue")
    with qtbot.waitSignal(panel.compare_ready, timeout=120000):
        assert panel.run_item()
    qtbot.waitUntil(lambda: window.selection.compare_mode, timeout=5000)
    assert window.selection.run_name == "baseline-thinking-clue-item0"
    assert window.selection.compare_name == "baseline-direct-clue-item0"
    assert window.right_panel.currentWidget() is window.compare_panel
