"""The error totals panel on the tiny benchmark's noisy-oracle runs: counts as the engine scored
them, a click asks the browser for the items behind a count."""

from __future__ import annotations

from avr_studio.models.error_totals import ALL, error_totals
from avr_studio.models.session import Session
from avr_studio.widgets.error_totals import COLUMNS, ErrorTotalsPanel


def test_the_panel_shows_the_runs_totals_and_asks_for_a_filter(qtbot, tiny_bench, run_dirs):
    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    run = next(r for r in (session.add_run(p) for p in run_dirs) if r.has_clues)
    totals = error_totals(run.name, run.reports["clue"].per_item)
    panel = ErrorTotalsPanel()
    qtbot.addWidget(panel)
    panel.show_totals(totals)
    rows = [panel.table.verticalHeaderItem(r).text() for r in range(panel.table.rowCount())]
    assert rows[-1] == ALL
    assert totals.count(ALL, "missed") > 0  # the noisy oracle misses some instances
    missed_col = COLUMNS.index("missed")
    assert int(panel.table.item(len(rows) - 1, missed_col).text()) == totals.count(ALL, "missed")
    counts, _ = totals.iou_histogram()
    assert list(panel.bars.opts["height"]) == list(counts)
    with qtbot.waitSignal(panel.filter_requested) as blocker:
        panel.table.cellClicked.emit(len(rows) - 1, missed_col)
    assert blocker.args[:2] == [ALL, "missed"]
    assert blocker.args[2] == totals.items(ALL, "missed")
    with qtbot.waitSignal(panel.filter_requested) as blocker:
        panel.show_iou_bin(0.75)
    assert blocker.args[1] == "IoU 0.7-0.8"
    assert blocker.args[2] == totals.items_with_iou(0.7, 0.8)
    assert blocker.args[2]  # the noisy oracle has pairs there
    panel.show_totals(None)
    assert panel.table.rowCount() == 0 and panel.bars is None
