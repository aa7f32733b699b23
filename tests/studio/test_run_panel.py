"""The Run panel on the tiny benchmark with the baseline backend (real `avr infer` subprocesses)."""

from __future__ import annotations

import json
import os
import signal

import pytest
from PySide6.QtCore import Qt

from avr_studio.models.run_setup import RunSetup, RunSetupError, batch_out
from avr_studio.models.selection import Selection
from avr_studio.models.session import Session
from avr_studio.widgets.run_panel import RunPanel
from tests.studio.stall_probe import StallProbe


@pytest.fixture
def panel(qtbot, tiny_bench, tmp_path):
    session = Session()
    session.open_dataset(tiny_bench.dataset_path)
    session.set_videos_dir(tiny_bench.videos_dir)
    selection = Selection()
    shown = {"items": list(session.items)}
    widget = RunPanel(session, selection, runs_root=lambda: tmp_path / "runs",
                      filtered_items=lambda: shown["items"])
    widget.shown = shown
    qtbot.addWidget(widget)
    widget.resize(500, 600)
    widget.show()
    yield widget
    widget.shutdown()


def test_run_setup_names_runs_and_refuses_incomplete_setups(tmp_path):
    setup = RunSetup(backend="transformers", model=str(tmp_path / "ckpt-500"), reasoning="both", protocol="long")
    assert setup.styles() == ("thinking", "direct")
    assert setup.run_name("thinking") == "transformers-ckpt-500-thinking-long"
    with pytest.raises(RunSetupError, match="does not exist"):
        setup.validate()
    with pytest.raises(RunSetupError, match="needs a server URL"):
        RunSetup(backend="openai").validate()
    served = RunSetup(backend="openai", url="http://127.0.0.1:8000/v1", model="avr")
    served.validate()
    assert served.run_name("direct") == "openai-avr_127.0.0.1_8000_v1-direct-clue"
    argv = served.request("direct", tmp_path / "d.json", tmp_path, tmp_path / "o.jsonl").argv()
    assert argv[argv.index("--url") + 1] == "http://127.0.0.1:8000/v1" and argv[argv.index("--model") + 1] == "avr"
    RunSetup(backend="baseline").validate()
    assert batch_out(tmp_path, RunSetup(), "direct") == tmp_path / "baseline-direct-clue.jsonl"


def test_running_the_selected_item_shows_its_answer_and_hands_over_a_run(qtbot, panel, tiny_bench):
    item = tiny_bench.items[2]
    panel.selection.select_item(item.index)
    panel.protocol.setCurrentText("long")
    with qtbot.waitSignal(panel.run_ready, timeout=60000) as blocker:
        qtbot.mouseClick(panel.run_item_button, Qt.MouseButton.LeftButton)
    out = blocker.args[0]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["index"] for r in rows] == [item.index]
    assert rows[0]["pred"] in panel.output.toPlainText()
    assert "finished: 1/1 items" in panel.state.text()
    assert panel.run_item_button.isEnabled() and not panel.cancel_button.isEnabled()
    run = panel.session.add_run(out)
    assert item.index in run.reports["long"].per_item


def test_both_styles_run_one_after_the_other_and_ask_for_a_comparison(qtbot, panel, tiny_bench):
    panel.selection.select_item(tiny_bench.items[0].index)
    panel.reasoning.setCurrentText("both")
    ready = []
    panel.run_ready.connect(ready.append)
    with qtbot.waitSignal(panel.compare_ready, timeout=90000) as blocker:
        assert panel.run_item()
    thinking, direct = blocker.args
    assert "thinking" in thinking.name and "direct" in direct.name
    assert ready == [thinking, direct]
    assert json.loads(thinking.read_text().splitlines()[0])["reasoning"] == "thinking"


def test_a_batch_runs_the_filtered_items_with_progress_and_can_be_cancelled(qtbot, panel, tiny_bench):
    panel.shown["items"] = tiny_bench.items[:5]
    panel.update_batch_label()
    assert panel.run_batch_button.text() == "Run batch (5 items)"
    panel.protocol.setCurrentText("long")
    with StallProbe() as probe, qtbot.waitSignal(panel.run_ready, timeout=90000) as blocker:
        assert panel.run_batch()
    probe.assert_no_stall()
    assert panel.progress.value() == 5 and panel.progress.maximum() == 5
    assert len(blocker.args[0].read_text().splitlines()) == 5
    panel.shown["items"] = tiny_bench.items  # a bigger filter: the same run resumes and grows
    assert panel.run_batch()
    qtbot.waitUntil(lambda: panel.progress.value() >= 6, timeout=60000)
    with qtbot.waitSignal(panel.job.finished, timeout=15000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert "cancelled after" in panel.state.text()
    assert panel.run_batch_button.isEnabled()


def test_a_killed_worker_leaves_the_panel_usable_with_a_clear_message(qtbot, panel, tiny_bench):
    panel.protocol.setCurrentText("long")
    messages = []
    panel.status.connect(messages.append)
    assert panel.run_batch()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=60000)
    with qtbot.waitSignal(panel.job.finished, timeout=15000):
        os.kill(panel.job.pid, signal.SIGKILL)
    assert "was killed (SIGKILL)" in panel.state.text()
    assert messages and "was killed" in messages[-1]
    assert panel.run_batch_button.isEnabled() and panel.run_item_button.isEnabled()


def test_refusals_are_messages_not_errors(qtbot, panel):
    assert not panel.run_item()
    assert panel.state.text() == "Select an item to run."
    panel.backend.setCurrentText("transformers")
    assert panel.target.isVisible()
    panel.selection.select_item(panel.session.items[0].index)
    assert not panel.run_item()
    assert "needs a checkpoint folder" in panel.state.text()


@pytest.mark.slow
def test_a_single_item_with_the_tiny_model_shows_its_text_and_becomes_a_run(qtbot, panel, tiny_bench, tiny_model_dir):
    item = tiny_bench.items[0]
    panel.selection.select_item(item.index)
    panel.backend.setCurrentText("transformers")
    panel.target.setText(str(tiny_model_dir))
    panel.reasoning.setCurrentText("thinking")
    panel.frames.setValue(4)
    panel.max_new_tokens.setValue(24)
    with qtbot.waitSignal(panel.run_ready, timeout=180000) as blocker:
        assert panel.run_item()
    row = json.loads(blocker.args[0].read_text().splitlines()[0])
    assert row["backend"] == "transformers" and row["error"] is None and row["pred"]
    assert row["pred"] in panel.output.toPlainText()
    run = panel.session.add_run(blocker.args[0])
    assert item.index in run.sets[run.protocols[0]].records


@pytest.mark.slow
def test_the_tiny_models_text_streams_in_before_the_row_is_written(qtbot, panel, tiny_bench, tiny_model_dir):
    panel.selection.select_item(tiny_bench.items[0].index)
    panel.backend.setCurrentText("transformers")
    panel.target.setText(str(tiny_model_dir))
    panel.frames.setValue(4)
    panel.max_new_tokens.setValue(24)
    chunks, rows_seen = [], []
    assert panel.run_item()
    panel.job.event.connect(lambda event: chunks.append(len(rows_seen)))
    panel.job.records.connect(rows_seen.extend)
    qtbot.waitSignal(panel.run_ready, timeout=180000).wait()
    assert len(chunks) > 1 and chunks[0] == 0  # text arrived while no row was written yet


def answer_next_dialog(button) -> None:
    """Press `button` in the next modal message box (as the user would)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def press() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            box.button(button).click()
        else:
            QTimer.singleShot(20, press)

    QTimer.singleShot(20, press)


def test_closing_over_a_running_batch_asks_first(qtbot, panel):
    from PySide6.QtWidgets import QMessageBox

    assert panel.confirm_close()  # nothing running: no question
    panel.protocol.setCurrentText("long")
    assert panel.run_batch()
    qtbot.waitUntil(lambda: panel.job.pid is not None, timeout=30000)
    answer_next_dialog(QMessageBox.StandardButton.Cancel)
    assert not panel.confirm_close()
    assert panel.busy
    answer_next_dialog(QMessageBox.StandardButton.Yes)
    assert panel.confirm_close()
    pid = panel.job.pid
    panel.shutdown()
    assert not panel.busy
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_openai_compatible_server_answers_the_selected_item(qtbot, panel, tiny_bench):
    from tests.engine.chat_server import ChatServer

    item = tiny_bench.items[1]
    panel.selection.select_item(item.index)
    panel.backend.setCurrentText("openai")
    assert panel.served_model.isVisible() and not panel.browse.isVisible()
    with ChatServer(answer=lambda body: "<think>two knocks at 3.5 s</think><answer>2</answer>",
                    models=["avr"]) as server:
        panel.target.setText(server.url)
        panel.served_model.setText("avr")
        panel.protocol.setCurrentText("long")
        panel.frames.setValue(4)
        with qtbot.waitSignal(panel.run_ready, timeout=60000) as blocker:
            assert panel.run_item()
        assert len(server.requests) == 1
    row = json.loads(blocker.args[0].read_text().splitlines()[0])
    assert row["index"] == item.index and row["backend"] == "openai" and row["error"] is None
    assert row["pred"] == "<think>two knocks at 3.5 s</think><answer>2</answer>"
    assert "two knocks at 3.5 s" in panel.output.toPlainText()
