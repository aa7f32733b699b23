"""The compare view: both runs on the frame, A/B tiers, the A/B tree, browser columns, and the
paired Summary whose numbers equal `avr compare --json`."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from tests.studio.conftest import items_of, wait_presented


def _compare(window):
    window.selection.set_compare_mode(True)
    assert window.selection.compare_mode


def test_paired_summary_equals_avr_compare_json(qtbot, window, tiny_bench, run_dirs, capsys):
    window.selection.select_run(run_dirs[0].name)
    window.selection.select_compare(run_dirs[1].name)
    window.tabs.setCurrentWidget(window.summary)
    qtbot.waitUntil(lambda: window.summary.paired_table.rowCount() > 0, timeout=10000)
    assert main(["compare", str(run_dirs[0]), str(run_dirs[1]), "--dataset", str(tiny_bench.dataset_path),
                 "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    rows = window.summary.paired_rows()
    checked = 0
    for protocol, block in expected["protocols"].items():
        groups = {"all": block, **block["groups"].get("category", {})}
        for group, stats in groups.items():
            for metric, values in stats["metrics"].items():
                digits = 3 if metric == "ifa" else 2
                row = next(r for r in rows if r[0] == protocol and r[1] == group and
                           r[3] == {"acc": "Acc %", "oboa": "OBOA %", "mae": "MAE", "rmse": "RMSE",
                                    "wcs": "WCS %", "ifa": "IFA"}[metric])
                assert row[2] == str(stats["n_paired"])
                assert row[4:8] == [f"{values['a']:.{digits}f}", f"{values['b']:.{digits}f}",
                                    f"{values['diff']:+.{digits}f}",
                                    f"[{values['ci95'][0]:+.{digits}f}, {values['ci95'][1]:+.{digits}f}]"]
                if metric == "acc":
                    d = stats["acc_discordant"]
                    assert row[8] == (f"A only {d['a_right_b_wrong']}, B only {d['b_right_a_wrong']}, "
                                      f"p = {d['mcnemar_exact_p']:.4g}")
                checked += 1
    assert checked >= 20
    assert "1000 resamples, seed 0" in window.summary.paired_title.text()


def test_thinking_run_warning_with_one_click_strict_switch(qtbot, window):
    thinking = next(r for r in window.session.runs if r.thinking)
    other = next(r for r in window.session.runs if not r.thinking)
    window.selection.select_run(other.name)
    window.selection.select_compare(thinking.name)
    window.tabs.setCurrentWidget(window.summary)
    qtbot.waitUntil(lambda: window.summary.paired_table.rowCount() > 0, timeout=10000)
    note = window.summary.thinking
    assert note.isVisible() and thinking.name in note.label.text() and "<answer>" in note.label.text()
    note.button.click()
    assert window.session.mode == "strict" and window.mode_label.text() == "scoring: strict"
    qtbot.waitUntil(lambda: not note.isVisible(), timeout=10000)


@pytest.mark.parametrize("category", ["object", "attribute"])
def test_both_runs_boxes_on_the_frame_with_their_own_style(qtbot, window, tiny_bench, category):
    from engine.scoring import gt_frame_times

    _compare(window)
    a, b = window.selection.run_name, window.selection.compare_name
    item = next(i for i in items_of(tiny_bench, category)
                if all(not window.session.run(r).clue_score(i.index).failed for r in (a, b)))
    window.selection.select_item(item.index)
    window.playhead.seek(gt_frame_times(item)[0])
    wait_presented(qtbot, window)
    layers = window.player.compare_layers
    assert set(layers) == {"GT", "A", "B"} and layers["GT"].boxes
    for tag, run in (("A", a), ("B", b)):
        score = window.session.run(run).clue_score(item.index)
        drawn = sorted(round(bx.iou, 6) for bx in layers[tag].boxes if bx.role == "pred" and bx.iou is not None)
        engine = sorted(round(m.iou, 6) for c in score.clusters for f in c.frames if f.frame == 0
                        for m in f.matches if m.gt is not None and m.pred is not None)
        assert drawn == engine
    assert layers["A"].pen_style != layers["B"].pen_style
    window.player.set_layer_visible("B", False)
    assert not any(i.isVisible() for i in layers["B"].items())
    window.player.set_layer_opacity("A", 0.3)
    assert all(i.opacity() == pytest.approx(0.3) for i in layers["A"].items())


@pytest.mark.parametrize("category", ["event", "object", "attribute"])
def test_ab_tree_shows_both_runs_engine_numbers(qtbot, window, tiny_bench, category):
    from engine.scoring import score_clue

    window.set_scoring_mode("strict")
    _compare(window)
    assert window.right_panel.currentWidget() is window.compare_panel
    a, b = (window.session.run(n) for n in (window.selection.run_name, window.selection.compare_name))
    for item in items_of(tiny_bench, category)[:2]:
        window.selection.select_item(item.index)
        panel = window.compare_panel
        sa = score_clue(item, a.pred_text("clue", item.index), "strict")
        sb = score_clue(item, b.pred_text("clue", item.index), "strict")
        assert f"A {100 * sa.score:.2f}" in panel.item_scores.text()
        assert f"B {100 * sb.score:.2f}" in panel.item_scores.text()
        assert f"B - A {100 * (sb.score - sa.score):+.2f}" in panel.item_scores.text()
        rows = panel.tree_rows()
        for score, iou_col in ((sa, 1), (sb, 3)):
            if score.failed:
                continue
            engine = sorted(f"{m.iou:.3f}" for c in score.clusters for f in c.frames for m in f.matches)
            shown = sorted(r[iou_col] for r in rows if r[iou_col] and r[iou_col + 1])
            assert shown == engine
        _reason_a, answer_a = __import__("engine.parsing", fromlist=["x"]).split_reasoning(a.pred_text("clue", item.index))
        assert panel.texts["A"][1].toPlainText() == answer_a


def test_browser_compare_columns_and_filters(qtbot, window, tiny_bench):
    window.set_scoring_mode("strict")
    _compare(window)
    browser = window.browser
    assert browser.model.columns[-5:] == ("A pred", "B pred", "A WCS", "B WCS", "WCS B-A")
    a, b = (window.session.run(n) for n in (window.selection.run_name, window.selection.compare_name))

    def shown():
        return {browser.model.rows[browser.proxy.mapToSource(browser.proxy.index(r, 0)).row()].index
                for r in range(browser.proxy.rowCount())}

    expected = {
        "A right, B wrong": {i.index for i in tiny_bench.items if a.count_score(i.index).correct and not b.count_score(i.index).correct},
        "B right, A wrong": {i.index for i in tiny_bench.items if b.count_score(i.index).correct and not a.count_score(i.index).correct},
        "both wrong": {i.index for i in tiny_bench.items if not a.count_score(i.index).correct and not b.count_score(i.index).correct},
    }
    for name, indices in expected.items():
        browser.outcome.setCurrentText(name)
        assert shown() == indices
    browser.outcome.setCurrentText("all")
    column = browser.model.columns.index("WCS B-A")
    browser.proxy.sort(column)
    diffs = [browser.model.rows[browser.proxy.mapToSource(browser.proxy.index(r, 0)).row()].wcs_difference
             for r in range(browser.proxy.rowCount())]
    assert diffs == sorted(diffs)


def test_ab_timeline_tiers_and_difference_markers(qtbot, window, tiny_bench):
    window.set_scoring_mode("strict")
    _compare(window)
    a, b = window.selection.run_name, window.selection.compare_name
    names = None
    for item in items_of(tiny_bench, "event"):
        window.selection.select_item(item.index)
        window.timeline.flush()  # the tiers are drawn just after the frame and tree
        names = [name for name, _ in window.timeline.rows]
        assert names == [f"A {a}", "GT", f"B {b}"]
        kinds = []
        for run in (a, b):
            score = window.session.run(run).clue_score(item.index)
            per_gt = {m.gt: m.kind for c in score.clusters for f in c.frames for m in f.matches if m.gt is not None}
            kinds.append([per_gt.get(g, "missed") if not score.failed else "missed" for g in range(len(item.clue))])
        expected = [(c.start + c.end) / 2 for g, c in enumerate(item.clue) if kinds[0][g] != kinds[1][g]]
        assert window.timeline.differences == pytest.approx(expected)
    window.selection.swap_runs()
    assert [name for name, _ in window.timeline.rows] == [f"A {b}", "GT", f"B {a}"]
