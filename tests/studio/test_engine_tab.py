"""The Engine tab end to end: one micro training run launched from the tab (stopped mid-SFT, resumed,
re-attached from a second tab, finished) is shared by the tests of this module; the error paths
(config check, a trainer that fails, a dead trainer, corrupt metrics, a missing folder) use their own
small folders. Everything runs the real `avr train` / `avr infer` in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PySide6.QtTest import QTest

from avr_studio.widgets.engine_tab import EngineTab
from tests.studio.conftest import close_and_delete
from tests.studio.stall_probe import StallProbe

MICRO = Path(__file__).parent / "data" / "engine_micro.yaml"
TIMEOUT_S = 900


def wait_until(condition, what: str, timeout: float = TIMEOUT_S) -> None:
    """Spin the event loop (the tab's timers and job signals run) until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        QTest.qWait(100)


def pipeline_states(tab: EngineTab) -> dict[str, str]:
    table = tab.pipeline
    return {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}


@dataclass
class Observed:
    root: Path
    points_at_stop: int = 0
    points_at_end: int = 0
    states_seen: set = field(default_factory=set)
    stopped_pipeline: dict = field(default_factory=dict)
    stopped_status: dict = field(default_factory=dict)
    stop_outcome: str = ""
    reattached_pid: int | None = None
    trainer_pid: int | None = None
    close_cancelled: bool | None = None
    final_pipeline: dict = field(default_factory=dict)
    final_status: dict = field(default_factory=dict)
    final_outcome: str = ""
    messages: list = field(default_factory=list)
    boundaries: list = field(default_factory=list)
    reward_curves: list = field(default_factory=list)
    max_busy_s: float = 0.0
    max_gap_s: float = 0.0
    probe_ticks: int = 0
    probe: StallProbe | None = None
    costs: dict = field(default_factory=dict)
    seconds: float = 0.0


@pytest.fixture(scope="module")
def micro_run(qapp, tmp_path_factory) -> Observed:
    """Launch the micro config from the tab, stop it mid-SFT, resume it, re-attach a second tab while
    it runs, and let it finish; the stall probe runs throughout."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("engine") / "run"
    seen = Observed(root)
    tab = EngineTab()
    tab.resize(1400, 900)
    tab.show()
    tab.run_state.connect(seen.states_seen.add)
    tab.load_config_file(MICRO)
    tab.run_dir.setText(str(root))
    costs = seen.costs
    original_poll = tab.poll

    def timed_poll():
        cpu = time.thread_time()
        original_poll()
        costs["poll"] = max(costs.get("poll", 0.0), time.thread_time() - cpu)

    tab.poll_timer.timeout.disconnect()
    tab.poll_timer.timeout.connect(timed_poll)
    QTest.qWait(300)  # the window's first paint happens before training, not during it
    with StallProbe() as probe:
        cpu = time.thread_time()
        assert tab.launch()
        costs["launch"] = time.thread_time() - cpu
        wait_until(lambda: tab.curves.drawn_points("loss") >= 1 and tab.run.liveness().live, "the first SFT step")
        seen.points_at_stop = tab.curves.drawn_points("loss")
        cpu = time.thread_time()
        tab.stop()
        costs["stop"] = time.thread_time() - cpu
        wait_until(lambda: not tab.train_job.running, "the trainer to stop")
        tab.poll()
        seen.stop_outcome = tab.train_job.outcome.message + " | " + tab.messages[-1]
        seen.stopped_pipeline = pipeline_states(tab)
        seen.stopped_status = dict(tab.run.status)
        cpu = time.thread_time()
        assert tab.resume()
        costs["resume"] = time.thread_time() - cpu
        wait_until(lambda: tab.run.liveness().live and tab.run.status.get("pid") != seen.stopped_status.get("pid"),
                   "the resumed trainer's heartbeat")
        seen.trainer_pid = tab.run.status["pid"]
        probe.timer.stop()  # building and deleting a second tab is not training-time work
        second = EngineTab()  # the studio reopened while the run goes on
        second.open_run(root)
        seen.reattached_pid = second.attached_pid
        seen.close_cancelled = second.confirm_close(ask=lambda _text: "cancel")
        second.shutdown()
        close_and_delete(second)
        probe._last = None
        probe.timer.start()
        wait_until(lambda: not tab.train_job.running, "the resumed run to finish")
        tab.poll()
    seen.probe = probe
    seen.final_outcome = tab.train_job.outcome.message
    seen.final_pipeline = pipeline_states(tab)
    seen.final_status = dict(tab.run.status)
    seen.points_at_end = tab.curves.drawn_points("loss")
    seen.messages = list(tab.messages)
    seen.boundaries = tab.curves.boundary_stages
    seen.reward_curves = [k for k in tab.run.series if k.startswith("rewards/")]
    seen.seconds = time.monotonic() - started
    tab.shutdown()
    close_and_delete(tab)
    return seen


@pytest.mark.slow
def test_launch_from_the_tab_curves_update_and_every_stage_reaches_done(micro_run):
    assert micro_run.final_status["state"] == "done", micro_run.messages
    assert set(micro_run.final_pipeline.values()) == {"done"}
    assert list(micro_run.final_pipeline) == ["sft", "grpo_qa", "grpo_counting"]
    assert micro_run.points_at_end > micro_run.points_at_stop >= 1
    rows = [json.loads(line) for line in (micro_run.root / "metrics.jsonl").read_text().splitlines()]
    assert micro_run.points_at_end == sum(1 for r in rows if "loss" in r)  # every logged row is drawn
    assert micro_run.boundaries == ["sft", "grpo_qa", "grpo_counting"]
    assert "rewards/format_reward/mean" in micro_run.reward_curves
    assert "every stage done" in micro_run.messages[-1]
    assert {"running", "stopped", "done"} <= micro_run.states_seen


@pytest.mark.slow
def test_stop_mid_stage_gives_stopped_and_resume_completes(micro_run):
    status = micro_run.stopped_status
    assert status["state"] == "stopped", micro_run.stop_outcome
    sft = status["stages"][0]
    assert sft["state"] == "stopped" and 1 <= sft["step"] < sft["total_steps"], sft  # mid-stage
    assert micro_run.stopped_pipeline["sft"] == "stopped"
    assert "stopped" in micro_run.stop_outcome and "Resume" in micro_run.stop_outcome
    assert any((micro_run.root / "checkpoints" / "sft").glob("checkpoint-*"))
    steps = [json.loads(line)["step"] for line in (micro_run.root / "metrics.jsonl").read_text().splitlines()
             if json.loads(line)["stage"] == "sft"]
    assert steps == list(range(1, 21))  # resumed without repeating or losing a step
    assert micro_run.final_status["stages"][0]["state"] == "done"


@pytest.mark.slow
def test_reopened_studio_reattaches_to_the_running_trainer_and_closing_asks(micro_run):
    assert micro_run.reattached_pid == micro_run.trainer_pid
    assert micro_run.close_cancelled is False  # "cancel": the window stays, the run goes on
    assert micro_run.final_status["state"] == "done"  # and the re-attached tab's close did not stop it


@pytest.mark.slow
def test_gui_thread_never_stalls_while_training(micro_run):
    assert micro_run.probe is not None
    assert micro_run.costs["poll"] < 0.050, micro_run.costs
    print("GUI-thread costs (s):", micro_run.costs, "probe max busy", micro_run.probe.max_busy,
          "max gap", micro_run.probe.max_gap)
    micro_run.probe.assert_no_stall()


@pytest.mark.slow
def test_evaluating_a_checkpoint_opens_it_as_a_run(window, micro_run, qtbot):
    tab = window.engine
    window.tabs.setCurrentWidget(tab)
    tab.open_run(micro_run.root)
    names = [tab.checkpoints.item(i).text() for i in range(tab.checkpoints.count())]
    assert "grpo_counting/final" in names and "sft/final" in names
    tab.checkpoints.setCurrentRow(names.index("grpo_counting/final"))
    tab.protocol.setCurrentText("long")
    tab.eval_limit.setValue(1)
    runs_before = len(window.session.runs)
    with qtbot.waitSignal(tab.evaluated, timeout=TIMEOUT_S * 1000) as blocker:
        assert tab.evaluate_selected()
    results = blocker.args[0]
    assert results.is_file() and json.loads(results.read_text().splitlines()[0])["backend"] == "transformers"
    assert len(window.session.runs) == runs_before + 1
    assert window.tabs.currentIndex() == 0  # shown in Inspect, with the other runs to compare
    assert window.browser.run_box.currentText() == window.session.runs[-1].name
    tab.shutdown()


# ---- error paths ---------------------------------------------------------------------------
@pytest.fixture
def tab(qtbot):
    widget = EngineTab()
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.shutdown()


@pytest.mark.slow
def test_config_check_points_at_the_field_and_its_line(tab, qtbot):
    text = MICRO.read_text().replace("learning_rate: 0.0001", "learning_rate: fast", 1)
    tab.editor.setPlainText(text)
    tab.check_config()
    qtbot.waitUntil(lambda: tab.check_job is not None and not tab.check_job.running, timeout=120_000)
    qtbot.waitUntil(lambda: tab.check_button.isEnabled(), timeout=5000)
    errors = [m for m in tab.config_messages if m.level == "error"]
    assert errors, [m.text() for m in tab.config_messages]
    assert errors[0].path == "stages[1].trainer.learning_rate"
    assert "learning_rate: fast" in text.splitlines()[errors[0].line]
    tab._goto_message(tab.check_list.item(0))
    assert tab.editor.textCursor().blockNumber() == errors[0].line
    tab.editor.setPlainText(MICRO.read_text())  # the valid text checks clean
    tab.check_config()
    qtbot.waitUntil(lambda: not tab.check_job.running and tab.check_button.isEnabled(), timeout=120_000)
    assert tab.config_messages[0].level == "ok" and "3 stages" in tab.config_messages[0].message


@pytest.mark.slow
def test_a_trainer_exiting_with_an_error_says_why(tab, qtbot, tmp_path):
    tab.editor.setPlainText(MICRO.read_text().replace("minutes: 0.1", "minutes: 0.05"))  # valid, fails at run
    tab.run_dir.setText(str(tmp_path / "run"))
    assert tab.launch()
    qtbot.waitUntil(lambda: not tab.train_job.running, timeout=TIMEOUT_S * 1000)
    assert tab.train_job.outcome.state == "failed"
    assert "exited with an error" in tab.messages[-1] and "minutes" in tab.messages[-1]
    assert tab.last_liveness.state == "failed" and "minutes" in tab.state_label.text()
    assert tab.resume_button.isEnabled() and tab.launch_button.isEnabled()


def test_a_dead_trainer_with_a_stale_heartbeat_shows_dead_not_running(tab, tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stages = [{"name": "sft", "kind": "sft", "state": "running", "step": 2, "total_steps": 5}]
    for pid, age, words in ((gone.pid, 1.0, "is gone"), (os.getpid(), 3600.0, "heartbeat stale")):
        root = tmp_path / f"run{pid}"
        root.mkdir()
        (root / "status.json").write_text(json.dumps({"state": "running", "pid": pid, "stages": stages,
                                                      "heartbeat_unix": time.time() - age}))
        tab.open_run(root)
        assert tab.last_liveness.state == "dead" and words in tab.state_label.text()
        assert pipeline_states(tab) == {"sft": "dead"}
        assert tab.attached_pid is None and not tab.busy  # nothing to re-attach to
        assert tab.resume_button.isEnabled() and not tab.stop_button.isEnabled()


def test_corrupt_metrics_and_a_missing_folder_give_messages(tab, qtbot, tmp_path):
    tab.open_run(tmp_path / "missing")
    assert tab.last_liveness.state == "missing" and "does not exist" in tab.state_label.text()
    assert not tab.resume_button.isEnabled()
    root = tmp_path / "run"
    root.mkdir()
    (root / "status.json").write_text(json.dumps({"state": "stopped", "pid": 1, "stages": []}))
    (root / "metrics.jsonl").write_text('{"stage": "sft", "step": 1, "global_step": 1, "loss": 2.0}\n'
                                        'not json at all\n{"stage": "sft", "step": 2, "glo')
    tab.open_run(root)
    qtbot.waitUntil(lambda: tab.curves.drawn_points("loss") == 1, timeout=5000)
    assert "skipped a corrupt line: not json at all" in tab.log_view.toPlainText()
    assert "unfinished line" in tab.state_label.text()


# ---- reward inspector ----------------------------------------------------------------------
def test_reward_inspector_scores_a_and_b_with_the_training_rewards(window, qtbot):
    from training.data import temporal_sample
    from training.rewards import REWARDS

    inspector = window.reward_inspector
    window.rewards_dock.show()
    names = [run.name for run in window.session.runs]
    window.compare_runs(names[0], names[1])
    item = next(i for i in window.session.items if i.category == "event"
                and window.session.run(names[0]).pred_text("clue", i.index) is not None)
    with qtbot.waitSignal(inspector.answered, timeout=60_000) as blocker:
        window.selection.select_item(item.index)
    results = {r["protocol"]: r for r in blocker.args[0]["results"]}
    clue = results["clue"]
    assert clue["task"] == "temporal_grounding"
    assert [p["label"] for p in clue["predictions"]] == ["A", "B"]
    row = temporal_sample(item, item.video)
    for label, run_name in (("A", names[0]), ("B", names[1])):
        text = window.session.run(run_name).pred_text("clue", item.index)
        got = {r["name"]: r for r in next(p for p in clue["predictions"] if p["label"] == label)["rewards"]}
        for name in ("format_reward", "temporal_iou_reward"):
            expected = REWARDS[name]([text], solution=[row.solution], task=[row.task])[0]
            assert got[name]["value"] == pytest.approx(expected)
            assert (got[name]["reason"] != "") == (expected == 0)
    for protocol in ("long", "ref"):
        if protocol in results:
            assert results[protocol]["task"] == "counting"
            assert {r["name"] for r in results[protocol]["predictions"][0]["rewards"]} == {"format_reward",
                                                                                          "count_reward"}
    assert "temporal_iou_reward" in inspector.view.toPlainText()


def test_reward_inspector_says_none_applies_to_attribute_clues():
    from engine.benchmark import item_from_json
    from training.inspect_rewards import answer

    item = {"index": 7, "video": "v.mp4", "question_en": "How many colours?", "answer": 2, "category": "attribute",
            "clue": [[{"timestamp": 0.5, "bbox": [0, 0, 10, 10]}]], "query_interval": [0.0, 2.0]}
    item_from_json(item)
    out = subprocess.run([sys.executable, "-m", "training.inspect_rewards"], capture_output=True, text=True,
                         input=json.dumps({"item": item, "protocol": "clue",
                                           "predictions": [{"label": "A", "pred": "[[0, 1]]"}]}), check=True)
    result = json.loads(out.stdout)
    assert result["task"] is None and "no training reward applies to attribute" in result["note"]
    assert result == answer({"item": item, "protocol": "clue", "predictions": [{"label": "A", "pred": "[[0, 1]]"}]})
    bad = subprocess.run([sys.executable, "-m", "training.inspect_rewards"], capture_output=True, text=True,
                         input="[]")
    assert bad.returncode == 2 and "error" in json.loads(bad.stdout)


def test_avr_studio_renders_the_engine_tab_for_a_run_folder(tmp_path):
    from PySide6.QtGui import QImage

    root = tmp_path / "run"
    root.mkdir()
    stages = [{"name": "sft", "kind": "sft", "state": "done", "step": 3, "total_steps": 3}]
    (root / "status.json").write_text(json.dumps({"state": "done", "pid": 1, "stages": stages}))
    (root / "metrics.jsonl").write_text("".join(json.dumps({"stage": "sft", "step": s, "global_step": s,
                                                            "loss": 3.0 / s}) + "\n" for s in (1, 2, 3)))
    png = tmp_path / "engine.png"
    out = subprocess.run([sys.executable, "-m", "avr_studio.app", "--tab", "engine", "--train-run", str(root),
                          "--screenshot", str(png), "--size", "1400x900"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-2000:]
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1400, 900)
    colours = {image.pixel(x, y) for x in range(0, 1400, 7) for y in range(0, 900, 7)}
    assert len(colours) > 20  # a drawn tab, not a blank window
