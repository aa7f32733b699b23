"""View-models with no Qt: signals, playhead, edits/scoreboard, rows and overlay geometry."""

from __future__ import annotations

import subprocess
import sys

import pytest

from avr_studio.models import Edits, Playhead, ScoreBoard, Selection, Session
from avr_studio.models.edits import with_box, with_interval
from avr_studio.models.overlay import event_intervals, frame_boxes, shown_frames
from avr_studio.models.playhead import SPEEDS, neighbour_time
from avr_studio.models.rows import RowFilter, build_row
from engine.parsing import answer_json_from_parsed
from engine.scoring import clue_report, gt_frame_times, score_clue, score_parsed


def test_models_import_no_qt():
    code = "import sys, avr_studio.models, avr_studio.models.overlay, avr_studio.models.rows; " \
           "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'shiboken'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_view_model_signals_are_psygnal_and_hold_subscribers_weakly():
    import gc

    from psygnal import SignalInstance

    selection = Selection()
    assert isinstance(selection.item_changed, SignalInstance)

    class View:
        def __init__(self) -> None:
            self.seen = []

        def on_item(self, index) -> None:
            self.seen.append(index)

    view = View()
    selection.item_changed.connect(view.on_item)
    selection.select_item(3)
    assert view.seen == [3]
    del view
    gc.collect()
    assert len(selection.item_changed) == 0  # a dropped view is not kept alive by the model
    selection.select_item(4)


def grid_playhead(duration=10.0, fps=25.0) -> Playhead:
    playhead = Playhead()
    playhead.set_media(duration, fps)
    return playhead


def test_frame_step_lands_on_the_next_frame_and_pauses():
    playhead = grid_playhead()
    playhead.seek(1.013)  # inside frame 25
    playhead.set_playing(True)
    playhead.step_frames(1)
    assert playhead.time == pytest.approx(26 / 25)
    assert not playhead.playing
    playhead.step_frames(-2)
    assert playhead.time == pytest.approx(24 / 25)


def test_hop_is_seconds_and_clamped():
    playhead = grid_playhead()
    playhead.seek(8.0)
    playhead.hop(5.0)
    assert playhead.time == 10.0
    playhead.hop(-20.0)
    assert playhead.time == 0.0


def test_loop_wraps_and_end_stops():
    playhead = grid_playhead()
    playhead.set_loop((2.0, 3.0))
    assert playhead.time == 2.0  # entering a loop jumps into it
    playhead.set_playing(True)
    playhead.advance_to(3.01)
    assert playhead.time == 2.0 and playhead.playing
    playhead.set_loop(None)
    playhead.advance_to(11.0)
    assert playhead.time == 10.0 and not playhead.playing


def test_speed_snaps_to_the_supported_range():
    playhead = grid_playhead()
    playhead.set_speed(10)
    assert playhead.speed == max(SPEEDS) == 4.0
    playhead.faster(-100)
    assert playhead.speed == min(SPEEDS) == 0.25


def test_clue_jumps_skip_the_current_clue():
    times = [1.0, 2.0, 5.0]
    assert neighbour_time(times, 2.0, 1, 0.02) == 5.0
    assert neighbour_time(times, 2.0, -1, 0.02) == 1.0
    assert neighbour_time(times, 5.0, 1, 0.02) is None
    playhead = grid_playhead()
    playhead.seek(1.5)
    assert playhead.jump_to_clue(times, 1) == 2.0 and playhead.time == 2.0


@pytest.fixture(scope="module")
def session(tiny_bench, run_dirs):
    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    session.set_videos_dir(tiny_bench.videos_dir)
    for run in run_dirs:
        session.add_run(run)
    return session


def test_session_runs_hold_the_engines_scores(session, tiny_bench):
    run = session.runs[0]
    assert set(run.protocols) == {"long", "ref", "clue"}
    for item in tiny_bench.items:
        expected = score_clue(item, run.pred_text("clue", item.index))
        assert run.clue_score(item.index).score == expected.score


def test_edit_rescored_by_the_engine_and_reset(session, tiny_bench):
    run = session.runs[0]
    edits = Edits()
    board = ScoreBoard(session, edits)
    item = next(i for i in tiny_bench.items if i.category == "event" and run.clue_score(i.index).parsed.intervals)
    changes = []
    board.changed.connect(lambda r, i: changes.append((r, i)))
    original = board.clue_score(run.name, item.index)
    gt = item.clue[0]
    edited = with_interval(original.parsed, 0, (gt.start, gt.end))
    edits.set(run.name, item.index, edited)
    score = board.clue_score(run.name, item.index)
    assert score.score == score_parsed(item, edited).score
    assert score.score == score_clue(item, answer_json_from_parsed(edited)).score
    totals = board.totals(run.name)
    others = [board.clue_score(run.name, i) for i in run.reports["clue"].per_item]
    assert totals.wcs == clue_report(others).wcs
    assert changes == [(run.name, item.index)]
    edits.reset(run.name, item.index)
    assert board.clue_score(run.name, item.index) is original
    assert board.totals(run.name) is run.reports["clue"]


def test_box_edit_changes_only_that_box(session, tiny_bench):
    run = session.runs[0]
    item = next(i for i in tiny_bench.items if i.category == "object" and run.clue_score(i.index).parsed.frames)
    parsed = run.clue_score(item.index).parsed
    frame = next(iter(parsed.frames))
    edited = with_box(parsed, None, frame, 0, (1, 2, 3, 4))
    assert edited.frames[frame][0] == (1.0, 2.0, 3.0, 4.0)
    assert edited.frames[frame][1:] == parsed.frames[frame][1:]
    assert parsed.frames[frame][0] != (1.0, 2.0, 3.0, 4.0)  # the original is untouched


def test_rows_and_filters(session, tiny_bench):
    board = ScoreBoard(session, Edits())
    run, other = session.runs[0], session.runs[1]
    rows = [build_row(item, run, other, board) for item in tiny_bench.items]
    for row in rows:
        count = run.count_score(row.index)
        assert row.abs_error == count.abs_error
        assert row.wcs == pytest.approx(100 * run.clue_score(row.index).score)
    assert [r.index for r in rows if RowFilter(category="object").accepts(r)] == [
        i.index for i in tiny_bench.items if i.category == "object"]
    failed = [r.index for r in rows if RowFilter(outcome="failed to parse").accepts(r)]
    assert failed == [i.index for i in tiny_bench.items
                      if run.clue_score(i.index).failed or run.count_score(i.index).failed]
    wrong = [r.index for r in rows if RowFilter(outcome="wrong").accepts(r)]
    assert wrong == [i.index for i in tiny_bench.items if not run.count_score(i.index).correct]
    assert [r.index for r in rows if RowFilter(text="BEEP").accepts(r)] == [
        i.index for i in tiny_bench.items if "beep" in i.question.lower()]


def test_overlay_boxes_follow_the_engine_matches(session, tiny_bench):
    run = session.runs[0]
    for item in tiny_bench.items:
        if item.category == "event":
            score = run.clue_score(item.index)
            gts, preds = event_intervals(item, score)
            assert len(gts) == len(item.clue)
            if not score.failed:
                assert len(preds) == len(score.parsed.intervals)
            continue
        score = run.clue_score(item.index)
        frames = list(range(len(gt_frame_times(item))))
        boxes = frame_boxes(item, score, frames)
        n_gt = sum(1 for b in boxes if b.role == "gt")
        assert n_gt == (len(item.clue) if item.category == "object" else sum(len(c) for c in item.clue))
        if not score.failed:
            ious = sorted(round(b.iou, 9) for b in boxes if b.role == "pred" and b.iou is not None)
            expected = sorted(round(m.iou, 9) for c in score.clusters for f in c.frames for m in f.matches
                              if m.gt is not None and m.pred is not None and m.iou > 0 and f.frame in frames)
            assert ious == expected


def test_shown_frames_half_frame_rule(tiny_bench):
    item = next(i for i in tiny_bench.items if i.category == "object")
    t = gt_frame_times(item)[0]
    fps = 25.0

    def index_at(x):
        return int(x * fps + 1e-6)

    frame = index_at(t)
    assert shown_frames(item, frame / fps, frame, fps, index_at) == [0]
    assert shown_frames(item, (frame + 2) / fps, frame + 2, fps, index_at) == []


def test_clear_media_lets_a_new_item_seek_past_the_old_duration():
    playhead = grid_playhead(duration=10.0)
    playhead.clear_media()
    playhead.seek(42.0)
    playhead.set_media(60.0, 25.0)
    assert playhead.time == 42.0


def test_scoring_mode_rescores_runs_through_the_engine(tiny_bench):
    """Strict mode reads <answer>-tagged counts the official rule scores as 0; numbers stay the engine's."""
    from engine.predictions import load_predictions
    from engine.scoring import evaluate_set

    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    thinking = next(p for p in sorted(tiny_bench.predictions_dir.iterdir()) if "thinking" in p.name)
    session.add_run(thinking)
    seen = []
    session.runs_changed.connect(lambda: seen.append(session.mode))
    session.set_mode("strict")
    expected = evaluate_set(load_predictions(thinking, "long"), session.items, "strict").report
    report = session.runs[0].reports["long"]
    assert seen == ["strict"]
    assert report.acc == expected.acc and report.mae == expected.mae
    assert report.parse_failures < evaluate_set(load_predictions(thinking, "long"), session.items).report.parse_failures


def test_navigation_neighbours_and_start_times(tiny_bench):
    from avr_studio.models.navigation import neighbours, start_time

    assert neighbours([5, 7, 9, 11, 13], 9) == [11, 7, 13]  # next first, then previous, then the one after
    assert neighbours([5, 7], 5) == [7] and neighbours([5, 7], 6) == []
    for item in tiny_bench.items:
        assert start_time(item) == (item.clue_times[0] if item.clue_times else item.query_interval[0])


def test_navigator_loops_and_their_owner(tiny_bench):
    from avr_studio.models import Edits, Playhead, ScoreBoard, Selection, Session
    from avr_studio.models.navigation import Navigator

    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    selection, playhead = Selection(), Playhead()
    playhead.set_media(60.0, 25.0)
    nav = Navigator(session, selection, ScoreBoard(session, Edits()), playhead)
    owners = []
    nav.loop_owner_changed.connect(owners.append)
    item = next(i for i in session.items if i.category == "event")
    selection.select_item(item.index)
    nav.open_item()
    assert playhead.time == item.clue_times[0]
    assert nav.toggle_loop("loop_query") and playhead.loop == item.query_interval
    assert nav.toggle_loop("loop_clue") and playhead.loop == (item.clue[0].start, item.clue[0].end)
    assert nav.toggle_loop("loop_clue") and playhead.loop is None
    assert owners == ["loop_query", "loop_clue", None]
