"""The Engine tab: launch, watch, stop and resume `avr train`; edit and check its config; evaluate checkpoints.

Everything goes through subprocesses and the run folder (avr_studio never imports training, torch or
trl): `avr train` and `avr infer` run as `Job`s of the one job runner (niced, limited threads, SIGTERM
then SIGKILL), `avr train --check --json` validates the editor's text, and a 500 ms timer polls the
run folder incrementally (`TrainRun.poll`, only new bytes). A run started elsewhere (or before the
studio was reopened) is re-attached by its pid and heartbeat; Stop then signals that pid directly.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models.config_check import ConfigMessage, read_check_output, templates, yaml_syntax_message
from avr_studio.models.train_run import TrainRun, format_eta
from avr_studio.widgets.engine_curves import Curves
from avr_studio.workers.jobs import Job, JobOutcome, JobSpec, python_module_argv

POLL_MS = 500
STOP_TIMEOUT_S = 90.0
STATE_COLOURS = {"pending": "#8a8a8a", "running": "#4e9af1", "done": "#5cc46a", "failed": "#e0565b",
                 "stopped": "#d9a74a", "dead": "#e0565b"}
LOG_LINES = 400


class EngineTab(QWidget):
    """The third tab of the main window (also usable on its own, e.g. `--tab engine --train-run DIR`)."""

    status = Signal(str)
    evaluated = Signal(object, object, object)  # (results JSONL, dataset, videos) of a finished evaluation
    run_state = Signal(str)  # the run's liveness state after each poll where it changed

    def __init__(self, benchmark=None, parent: QWidget | None = None) -> None:
        """`benchmark()` returns the window's open (dataset, videos) or None (then a checkpoint is
        evaluated on the run's own synthetic benchmark)."""
        super().__init__(parent)
        self.benchmark = benchmark or (lambda: None)
        self.run: TrainRun | None = None
        self.overlays: dict[str, TrainRun] = {}
        self.train_job: Job | None = None
        self.check_job: Job | None = None
        self.eval_job: Job | None = None
        self.attached_pid: int | None = None
        self.messages: list[str] = []
        self.last_liveness = None
        self._check_text = ""
        self._check_lines: list[str] = []
        self._config_file: Path | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill_attached)
        self._build()
        self._redraw_soon = QTimer(self)
        self._redraw_soon.setSingleShot(True)
        self._redraw_soon.setInterval(0)
        self._redraw_soon.timeout.connect(self.curves.redraw)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self._load_template(self.template.currentText())

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.run_dir = QLineEdit()
        self.run_dir.setPlaceholderText("run folder (new for Launch, existing to watch or resume)")
        browse = QPushButton("Open run…")
        browse.clicked.connect(self._browse_run)
        self.launch_button = QPushButton("Launch")
        self.launch_button.clicked.connect(self.launch)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume)
        overlay = QPushButton("Overlay run…")
        overlay.setToolTip("draw another run's curves over these (dashed)")
        overlay.clicked.connect(self._browse_overlay)
        top = QHBoxLayout()
        top.addWidget(QLabel("Run"))
        top.addWidget(self.run_dir, 1)
        for widget in (browse, self.launch_button, self.stop_button, self.resume_button, overlay):
            top.addWidget(widget)
        self.state_label = QLabel("No run")
        self.state_label.setWordWrap(True)
        self.state_label.setObjectName("engineState")

        self.pipeline = QTableWidget(0, 5)
        self.pipeline.setHorizontalHeaderLabels(["Stage", "Kind", "State", "Step", "ETA"])
        self.pipeline.verticalHeader().setVisible(False)
        self.pipeline.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.pipeline.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        self.template = QComboBox()
        self.template.addItems(list(templates()))
        self.template.setCurrentText("smoke.yaml")
        self.template.textActivated.connect(self._load_template)
        load_file = QPushButton("Open…")
        load_file.clicked.connect(self._browse_config)
        self.check_button = QPushButton("Check")
        self.check_button.clicked.connect(self.check_config)
        self.editor = QPlainTextEdit()
        self.editor.setFont(QFont("monospace", 9))
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.check_list = QListWidget()
        self.check_list.setMaximumHeight(110)
        self.check_list.itemActivated.connect(self._goto_message)
        self.check_list.itemClicked.connect(self._goto_message)
        config_bar = QHBoxLayout()
        config_bar.addWidget(QLabel("Template"))
        config_bar.addWidget(self.template, 1)
        config_bar.addWidget(load_file)
        config_bar.addWidget(self.check_button)
        config_box = QWidget()
        config_layout = QVBoxLayout(config_box)
        config_layout.setContentsMargins(0, 0, 0, 0)
        config_layout.addLayout(config_bar)
        config_layout.addWidget(self.editor, 1)
        config_layout.addWidget(self.check_list)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.pipeline)
        left.addWidget(config_box)
        left.setSizes([200, 600])

        self.curves = Curves()
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(LOG_LINES)
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)  # long warnings: scroll, not re-wrap
        self.log_view.setFont(QFont("monospace", 8))
        self.filter_table = _table(["Stage", "Epoch", "Kept", "Dropped: solved", "Dropped: localised"])
        self.completions_table = _table(["Stage", "Step", "Rewards", "Completion"])
        self.completions_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.completions_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.checkpoints = QListWidget()
        self.protocol = QComboBox()
        self.protocol.addItems(["long", "ref", "clue"])
        self.eval_limit = QSpinBox()
        self.eval_limit.setRange(1, 100000)
        self.eval_limit.setValue(4)
        self.eval_limit.setPrefix("first ")
        self.eval_limit.setSuffix(" items")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("avr infer --backend transformers --model CHECKPOINT, in the background; "
                                        "the result opens as a run in Inspect and Summary")
        self.evaluate_button.clicked.connect(self.evaluate_selected)
        self.eval_state = QLabel("")
        self.eval_state.setWordWrap(True)
        eval_box = QWidget()
        eval_layout = QVBoxLayout(eval_box)
        eval_bar = QHBoxLayout()
        eval_bar.addWidget(QLabel("Protocol"))
        eval_bar.addWidget(self.protocol)
        eval_bar.addWidget(self.eval_limit)
        eval_bar.addWidget(self.evaluate_button)
        eval_bar.addStretch(1)
        eval_layout.addWidget(self.checkpoints, 1)
        eval_layout.addLayout(eval_bar)
        eval_layout.addWidget(self.eval_state)
        self.details = QTabWidget()
        self.details.addTab(self.log_view, "Log")
        self.details.addTab(self.filter_table, "Filter")
        self.details.addTab(self.completions_table, "Completions")
        self.details.addTab(eval_box, "Checkpoints")

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.curves)
        right.addWidget(self.details)
        right.setSizes([560, 300])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setSizes([520, 1080])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.state_label)
        layout.addWidget(body, 1)
        self._set_buttons()

    # ---- run folder ------------------------------------------------------------------------
    def open_run(self, root: str | os.PathLike) -> None:
        """Watch a run folder (re-attaching to its trainer when one is still going)."""
        root = Path(root).expanduser().resolve()
        self.run_dir.setText(str(root))
        self.run = TrainRun(root)
        self.attached_pid = None
        self.messages = []
        self.log_view.clear()
        self.filter_table.setRowCount(0)
        self.completions_table.setRowCount(0)
        self.curves.set_runs(self._curve_runs())
        self.poll()
        live = self.run.liveness()
        if live.live and not self._own_job_running():
            self.attached_pid = live.pid
            self._say(f"re-attached to the trainer still running this run (pid {live.pid})")
        self.poll_timer.start()

    def add_overlay(self, root: str | os.PathLike) -> None:
        run = TrainRun(Path(root).expanduser().resolve())
        run.poll()
        while run.has_backlog:
            run.poll()
        self.overlays[run.root.name] = run
        self.curves.set_runs(self._curve_runs())

    def _curve_runs(self) -> dict[str, TrainRun]:
        runs = {self.run.root.name: self.run} if self.run else {}
        runs.update({k: v for k, v in self.overlays.items() if k not in runs})
        return runs

    def poll(self) -> None:
        """Read what the run folder gained; update the views that changed. Cheap when nothing did."""
        if self.run is None:
            return
        update = self.run.poll()
        for run in self.overlays.values():
            run.poll()
        for problem in update.problems:
            self._say(problem)
        if update.log_lines:  # a backlog: only what the view keeps (laying out the rest costs for nothing)
            self.log_view.appendPlainText("\n".join(update.log_lines[-LOG_LINES:]))
        if update.reset:
            self.curves.set_runs(self._curve_runs())
        if update.metrics or update.reset or self.overlays:
            self._redraw_soon.start()  # its own event: the tables and the curves never add up
        if update.filters:
            self._fill_filters()
        if update.completions:
            self._fill_completions()
        if update.status_changed or update.metrics:
            self._fill_pipeline()
            self._fill_checkpoints()
        self._show_liveness()
        if self.run.has_backlog:  # a big file: the next slice soon, without blocking now
            QTimer.singleShot(0, self, self.poll)

    def _show_liveness(self) -> None:
        live = self.run.liveness()
        if self.attached_pid is not None and not live.live:
            self.attached_pid = None
            self._kill_timer.stop()
        text = live.message
        if self.run.torn_metrics_bytes:
            text += f" · metrics.jsonl ends in an unfinished line ({self.run.torn_metrics_bytes} bytes, waiting)"
        if self.messages:
            text += f" · {self.messages[-1]}"
        self.state_label.setText(text)
        colour = STATE_COLOURS.get(live.state, "#c9c9c9")
        self.state_label.setStyleSheet(f"color: {colour};")
        if self.last_liveness is None or live.state != self.last_liveness.state:
            self.last_liveness = live
            self.run_state.emit(live.state)
        self.last_liveness = live
        self._set_buttons()

    def _fill_pipeline(self) -> None:
        stages = self.run.stages()
        dead = self.run.liveness().state == "dead"
        self.pipeline.setRowCount(len(stages))
        for row, stage in enumerate(stages):
            state = "dead" if dead and stage.state == "running" else stage.state
            step = f"{stage.step} / {stage.total_steps}" if stage.total_steps else str(stage.step)
            cells = (stage.name, stage.kind, state, step, format_eta(stage.eta_s))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setForeground(_colour(STATE_COLOURS.get(state, "#c9c9c9")))
                    if stage.error:
                        item.setToolTip(stage.error)
                self.pipeline.setItem(row, col, item)

    def _fill_filters(self) -> None:
        rows = self.run.filter_rows()
        self.filter_table.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for c, value in enumerate(values):
                self.filter_table.setItem(r, c, QTableWidgetItem(str(value)))

    def _fill_completions(self) -> None:
        rows = self.run.latest_completions
        self.completions_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            rewards = ", ".join(f"{k} {v:.2f}" for k, v in (row.get("rewards") or {}).items()
                                if isinstance(v, int | float))
            cells = (row.get("stage", ""), row.get("global_step", ""), rewards, str(row.get("completion", "")))
            for c, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                if c == 3:
                    item.setToolTip(f"{row.get('prompt', '')}\n\n{row.get('completion', '')}")
                self.completions_table.setItem(r, c, item)

    def _fill_checkpoints(self) -> None:
        paths = [str(p) for p in self.run.checkpoints()]
        shown = [self.checkpoints.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.checkpoints.count())]
        if paths == shown:
            return
        selected = self.checkpoints.currentItem()
        keep = selected.data(Qt.ItemDataRole.UserRole) if selected else None
        self.checkpoints.clear()
        for path in paths:
            item = QListWidgetItem(str(Path(path).relative_to(self.run.root / "checkpoints")))
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.checkpoints.addItem(item)
            if path == keep:
                self.checkpoints.setCurrentItem(item)

    def _say(self, message: str) -> None:
        self.messages.append(message)
        self.log_view.appendPlainText(f"[studio] {message}")
        self.status.emit(message)

    # ---- launching -------------------------------------------------------------------------
    def _own_job_running(self) -> bool:
        return self.train_job is not None and self.train_job.running

    @property
    def busy(self) -> bool:
        """A trainer is going that this tab started or re-attached to."""
        return self._own_job_running() or self.attached_pid is not None

    def _set_buttons(self) -> None:
        busy = self.busy
        live = self.last_liveness
        self.launch_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        resumable = live is not None and live.state in ("stopped", "failed", "dead")
        self.resume_button.setEnabled(not busy and resumable)

    def launch(self) -> bool:
        """`avr train --config <editor text> --out <run folder>`; False with a message when impossible."""
        out = self.run_dir.text().strip()
        if not out:
            return self._refuse("choose a new run folder first (type a path or Open run…)")
        root = Path(out).expanduser().resolve()
        if root.exists() and any(root.iterdir()):
            return self._refuse(f"{root} is not empty: choose a new folder, or Resume this run")
        syntax = yaml_syntax_message(self.editor.toPlainText())
        if syntax is not None:
            self._show_messages([syntax])
            return self._refuse("the config has a YAML error (see the messages under the editor)")
        config = self._save_editor(root.parent / f".{root.name}.config.yaml")
        return self._start_train(root, ("train", "--config", str(config), "--out", str(root)), "Launching")

    def resume(self) -> bool:
        if self.run is None:
            return self._refuse("open a run folder to resume")
        return self._start_train(self.run.root, ("train", "--resume", str(self.run.root)), "Resuming")

    def _start_train(self, root: Path, args: tuple[str, ...], verb: str) -> bool:
        if self.busy:
            return self._refuse("a trainer is already running from this tab")
        spec = JobSpec(name="avr train", argv=python_module_argv("engine.cli", *args), output=None,
                       stop_timeout_s=STOP_TIMEOUT_S, env={"PYTHONWARNINGS": "ignore"})
        self.train_job = Job(spec, self)
        self.train_job.finished.connect(self._on_train_finished)
        self.train_job.log.connect(self._on_train_console)
        self.open_run(root)
        self.train_job.start()
        self._say(f"{verb}: avr {' '.join(args)}")
        self._set_buttons()
        return True

    def _on_train_console(self, line: str) -> None:
        if "error" in line.lower() and line.startswith("avr"):
            self._say(line.strip())

    def _on_train_finished(self, outcome: JobOutcome) -> None:
        self.poll()
        live = self.run.liveness() if self.run else None
        if outcome.ok:
            message = "training finished: every stage done"
        elif outcome.exit_code == 3 or (live and live.state == "stopped"):
            message = "training stopped (a checkpoint was saved); Resume continues it"
        elif outcome.exit_code == 2:
            message = f"avr train refused: {outcome.log_tail[-1] if outcome.log_tail else outcome.message}"
        else:
            error = (self.run.status or {}).get("error") if self.run else None
            message = f"the trainer exited with an error (code {outcome.exit_code}): {error or outcome.message}"
        self._say(message)
        self._show_liveness()

    def stop(self) -> None:
        """SIGTERM: the trainer checkpoints at the next step boundary and reports `stopped`; killed
        after STOP_TIMEOUT_S if it does not go."""
        if self._own_job_running():
            self._say("stopping: the trainer saves a checkpoint at the next step boundary")
            self.train_job.cancel()
        elif self.attached_pid is not None:
            self._say(f"stopping the re-attached trainer (pid {self.attached_pid})")
            _signal(self.attached_pid, signal.SIGTERM)
            self._kill_timer.start(round(STOP_TIMEOUT_S * 1000))

    def _kill_attached(self) -> None:
        if self.attached_pid is not None:
            _signal(self.attached_pid, signal.SIGKILL)

    def _refuse(self, message: str) -> bool:
        self._say(message)
        return False

    # ---- closing ---------------------------------------------------------------------------
    def confirm_close(self, ask=None) -> bool:
        """Closing over a running trainer: stop it, leave it running (re-attach later), or keep the window.
        `ask(text)` returns "stop", "leave" or "cancel" (a dialog by default)."""
        if not self.busy:
            return True
        choice = (ask or self._ask_close)(self._close_question())
        if choice == "cancel":
            return False
        if choice == "stop":
            self.shutdown_training()
        else:
            self.leave_running()
        return True

    def _close_question(self) -> str:
        pid = self.run.liveness().pid if self.run else None
        return (f"A training run is going in {self.run.root if self.run else '?'} (trainer pid {pid}).\n\n"
                "Stop it (a checkpoint is saved; Resume continues it), or leave it running and re-attach "
                "when you open this run folder again?")

    def _ask_close(self, text: str) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running", text, parent=self)
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        leave = box.addButton("Leave it running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return "stop" if box.clickedButton() is stop else "leave" if box.clickedButton() is leave else "cancel"

    def shutdown_training(self) -> None:
        """Stop the trainer and wait for it (its checkpoint included)."""
        if self._own_job_running():
            self.train_job.shutdown(STOP_TIMEOUT_S)
        elif self.attached_pid is not None:
            _signal(self.attached_pid, signal.SIGTERM)

    def leave_running(self) -> None:
        """Detach: the trainer runs in its own session and keeps writing the folder; the `avr` wrapper
        that QProcess owns is ended quietly (the trainer does not depend on it)."""
        self.attached_pid = None
        if self._own_job_running():
            self.train_job.finished.disconnect(self._on_train_finished)
            self.train_job._process.kill() if self.train_job._process else None  # the wrapper only, not its group
            self.train_job._process.waitForFinished(2000)

    def shutdown(self) -> None:
        """The window is closing (after confirm_close): timers off, evaluation and check jobs stopped."""
        self.poll_timer.stop()
        self._redraw_soon.stop()
        self._kill_timer.stop()
        for job in (self.check_job, self.eval_job):
            if job is not None:
                job.shutdown(5.0)
        if self._own_job_running():
            self.train_job.shutdown(STOP_TIMEOUT_S)

    # ---- config editor ---------------------------------------------------------------------
    def _load_template(self, name: str) -> None:
        path = templates().get(name)
        if path is not None:
            self.load_config_file(path)

    def load_config_file(self, path: str | os.PathLike) -> None:
        path = Path(path)
        try:
            self.editor.setPlainText(path.read_text(encoding="utf-8"))
        except OSError as exc:
            self._say(f"cannot read {path}: {exc}")
            return
        self._config_file = path
        self.check_list.clear()

    def _save_editor(self, path: Path) -> Path:
        """The editor's text in a file next to where the run goes, so relative paths keep their meaning
        when it came from a template (they are resolved from the config's folder)."""
        text = self.editor.toPlainText()
        source = self._config_file
        if source is not None and source.is_file() and source.read_text(encoding="utf-8") == text:
            return source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def check_config(self) -> None:
        """`avr train --check --config <editor text> --json` in the background; messages name the field
        and its line (click one to go there)."""
        text = self.editor.toPlainText()
        syntax = yaml_syntax_message(text)
        if syntax is not None:
            self._show_messages([syntax])
            return
        if self.check_job is not None and self.check_job.running:
            return
        handle, name = tempfile.mkstemp(prefix="avr-studio-check-", suffix=".yaml")  # never beside the templates
        os.close(handle)
        target = Path(name)
        target.write_text(text, encoding="utf-8")
        self._check_text, self._check_lines = text, []
        self.check_list.clear()
        self.check_list.addItem("checking…")
        spec = JobSpec(name="avr train --check", env={"PYTHONWARNINGS": "ignore"},
                       argv=python_module_argv("engine.cli", "train", "--check", "--config", str(target), "--json"))
        self.check_job = Job(spec, self)
        self.check_job.log.connect(self._check_lines.append)
        self.check_job.finished.connect(lambda _outcome, t=target: self._on_checked(t))
        self.check_job.start()
        self.check_button.setEnabled(False)

    def _on_checked(self, target: Path) -> None:
        self.check_button.setEnabled(True)
        target.unlink(missing_ok=True)
        self._show_messages(read_check_output(self._check_text, self._check_lines))

    def _show_messages(self, messages: list[ConfigMessage]) -> None:
        self.check_list.clear()
        for message in messages:
            item = QListWidgetItem(message.text())
            item.setData(Qt.ItemDataRole.UserRole, message.line)
            item.setForeground(_colour({"error": "#e0565b", "warning": "#d9a74a"}.get(message.level, "#5cc46a")))
            self.check_list.addItem(item)
        self.config_messages = messages

    def _goto_message(self, item: QListWidgetItem) -> None:
        line = item.data(Qt.ItemDataRole.UserRole)
        if line is None:
            return
        block = self.editor.document().findBlockByLineNumber(int(line))
        cursor = QTextCursor(block)
        cursor.select(QTextCursor.SelectionType.LineUnderCursor)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus()

    # ---- checkpoint evaluation -------------------------------------------------------------
    def evaluate_selected(self) -> bool:
        item = self.checkpoints.currentItem()
        if item is None:
            return self._refuse("select a checkpoint to evaluate")
        return self.evaluate(Path(item.data(Qt.ItemDataRole.UserRole)))

    def evaluate(self, checkpoint: Path) -> bool:
        """`avr infer --backend transformers --model CHECKPOINT` on the open benchmark (or the run's own
        synthetic one) in the background; the results open as a run when it is done."""
        if self.eval_job is not None and self.eval_job.running:
            return self._refuse("an evaluation is already running")
        bench = self.benchmark() or self._run_benchmark()
        if bench is None:
            return self._refuse("open a benchmark (File > Open) to evaluate on; this run has no synthetic one")
        dataset, videos = bench
        stage = checkpoint.parent.name
        out = self.run.root / "evaluations" / f"{stage}-{checkpoint.name}-{self.protocol.currentText()}.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        args = ("infer", "--backend", "transformers", "--model", str(checkpoint), "--dataset", str(dataset),
                "--videos", str(videos), "--protocol", self.protocol.currentText(), "--out", str(out),
                "--limit", str(self.eval_limit.value()), "--frames", "4", "--max-new-tokens", "64")
        spec = JobSpec(name=f"evaluate {stage}/{checkpoint.name}", argv=python_module_argv("engine.cli", *args),
                       output=out, total=self.eval_limit.value(), count_key="index")
        self.eval_job = Job(spec, self)
        self.eval_job.progress.connect(lambda p: self.eval_state.setText(f"{spec.name}: {p.describe()}"))
        self.eval_job.finished.connect(lambda outcome, o=out, b=bench: self._on_evaluated(outcome, o, b))
        self.eval_job.start()
        self.eval_state.setText(f"{spec.name}: started")
        self.evaluate_button.setEnabled(False)
        return True

    def _run_benchmark(self) -> tuple[Path, Path] | None:
        if self.run is None:
            return None
        for dataset in sorted((self.run.root / "data").glob("synth-*/dataset.json")):
            return dataset, dataset.parent / "videos"
        return None

    def _on_evaluated(self, outcome: JobOutcome, out: Path, bench: tuple[Path, Path]) -> None:
        self.evaluate_button.setEnabled(True)
        self.eval_state.setText(outcome.message)
        self._say(outcome.message)
        if outcome.ok:
            self.evaluated.emit(out, *bench)

    # ---- dialogs ---------------------------------------------------------------------------
    def _browse_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training run folder")
        if folder:
            self.open_run(folder)

    def _browse_overlay(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run to overlay")
        if folder:
            self.add_overlay(folder)

    def _browse_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pipeline config", "", "YAML (*.yaml *.yml)")
        if path:
            self.load_config_file(path)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _colour(hex_colour: str):
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(hex_colour))


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
