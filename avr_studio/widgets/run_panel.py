"""The Run panel: run a model on the selected item or, in the background, on the browser's
filtered items, through `avr infer` subprocesses (the job runner); each finished run is handed to
the window to load, and "both" reasoning styles to compare.

The panel only renders the setup and forwards clicks: what to run comes from `RunSetup`, how it
runs from `Job`. Jobs run one at a time (a "both" run is two jobs), niced, so the window keeps a
core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models.run_setup import (
    NEED_LABELS,
    NEEDS,
    PROTOCOL_CHOICES,
    REASONING_CHOICES,
    RunSetup,
    batch_out,
    single_out,
)
from avr_studio.models.selection import Selection
from avr_studio.models.session import Session
from avr_studio.workers.infer_job import infer_job_spec, subset_path
from avr_studio.workers.jobs import Job, JobOutcome, JobSpec
from engine.backends.base import backend_names
from engine.benchmark import Item
from engine.errors import UserError
from engine.runs.manifest import manifest_path

FALLBACK_BACKENDS = ("baseline", "replay", "transformers", "openai")


@dataclass(frozen=True)
class QueuedRun:
    spec: JobSpec
    out: Path
    style: str
    single: bool


class RunPanel(QWidget):
    run_ready = Signal(object)  # Path of a finished results file, to open as a run
    compare_ready = Signal(object, object)  # (thinking, direct) results of a "both" run
    status = Signal(str)

    def __init__(self, session: Session, selection: Selection, runs_root: Callable[[], Path],
                 filtered_items: Callable[[], Sequence[Item]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.selection = session, selection
        self.runs_root, self.filtered_items = runs_root, filtered_items
        self.job: Job | None = None
        self.queue: list[QueuedRun] = []
        self.finished_outs: list[tuple[str, Path]] = []
        self._current: QueuedRun | None = None
        self._build()
        self._on_backend()

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.backend = QComboBox()
        self.backend.addItems(sorted(set(backend_names()) | set(FALLBACK_BACKENDS)))
        self.backend.setCurrentText("baseline")
        self.backend.currentTextChanged.connect(self._on_backend)
        self.target = QLineEdit()
        self.served_model = QLineEdit()
        self.served_model.setPlaceholderText("the model name the server serves, e.g. avr")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.reasoning = QComboBox()
        self.reasoning.addItems(REASONING_CHOICES)
        self.protocol = QComboBox()
        self.protocol.addItems(PROTOCOL_CHOICES)
        self.frames = QSpinBox()
        self.frames.setRange(1, 512)
        self.frames.setValue(50)
        self.frames.setToolTip("frames sampled per item (the benchmark uses 50)")
        self.max_new_tokens = QSpinBox()
        self.max_new_tokens.setRange(1, 32768)
        self.max_new_tokens.setValue(1024)
        self.run_item_button = QPushButton("Run item")
        self.run_item_button.clicked.connect(self.run_item)
        self.run_batch_button = QPushButton("Run batch")
        self.run_batch_button.clicked.connect(self.run_batch)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.state = QLabel("Idle")
        self.state.setWordWrap(True)
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("The model's text appears here as it arrives.")
        self.output.setMaximumBlockCount(5000)
        form = QFormLayout()
        target_row = QHBoxLayout()
        target_row.addWidget(self.target)
        target_row.addWidget(self.browse)
        self.target_label = QLabel()
        form.addRow("Backend", self.backend)
        form.addRow(self.target_label, target_row)
        self.served_model_label = QLabel("Served model")
        form.addRow(self.served_model_label, self.served_model)
        form.addRow("Reasoning", self.reasoning)
        form.addRow("Protocol", self.protocol)
        limits = QHBoxLayout()
        limits.addWidget(self.frames)
        limits.addWidget(QLabel("max new tokens"))
        limits.addWidget(self.max_new_tokens)
        form.addRow("Frames", limits)
        buttons = QHBoxLayout()
        for button in (self.run_item_button, self.run_batch_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.state)
        layout.addWidget(self.output, 1)

    def _on_backend(self, *_args) -> None:
        need = NEEDS.get(self.backend.currentText())
        self.target_label.setText(NEED_LABELS[need].capitalize() if need else "")
        for widget in (self.target, self.browse, self.target_label):
            widget.setVisible(need is not None)
        self.browse.setVisible(need in ("model", "source"))
        for widget in (self.served_model, self.served_model_label):
            widget.setVisible(need == "url")
        self.target.setPlaceholderText("http://127.0.0.1:8000/v1" if need == "url" else "")

    def _browse(self) -> None:
        need = NEEDS.get(self.backend.currentText())
        if need == "model":
            chosen = QFileDialog.getExistingDirectory(self, "Checkpoint folder")
        else:
            chosen = QFileDialog.getExistingDirectory(self, "Predictions to replay")
        if chosen:
            self.target.setText(chosen)

    def update_batch_label(self) -> None:
        """Say how many items a batch would run (the window calls this when the browser's filter changes)."""
        count = len(self.filtered_items())
        self.run_batch_button.setText(f"Run batch ({count} item{'s' if count != 1 else ''})")

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.update_batch_label()
        super().showEvent(event)

    def setup(self) -> RunSetup:
        need = NEEDS.get(self.backend.currentText())
        values = {need: self.target.text().strip()} if need else {}
        if need == "url":
            values["model"] = self.served_model.text().strip()
        return RunSetup(backend=self.backend.currentText(), reasoning=self.reasoning.currentText(),
                        protocol=self.protocol.currentText(), frames=self.frames.value(),
                        max_new_tokens=self.max_new_tokens.value(), **values)

    # ---- starting --------------------------------------------------------------------------
    def run_item(self) -> bool:
        """Run the selected item (each reasoning style of the setup); False with a message if impossible."""
        item = self.session.item(self.selection.item_index)
        if item is None:
            return self._refuse("Select an item to run.")
        return self._enqueue([item], single=True)

    def run_batch(self) -> bool:
        """Run every item the browser shows, in the background; rerunning resumes."""
        items = list(self.filtered_items())
        if not items:
            return self._refuse("No items to run: the browser's filter shows none.")
        return self._enqueue(items, single=False)

    def _enqueue(self, items: Sequence[Item], single: bool) -> bool:
        if self.job is not None and self.job.running:
            return self._refuse("A run is going: cancel it or wait for it to finish.")
        setup = self.setup()
        try:
            setup.validate()
            queued = [self._queued(setup, style, items, single) for style in setup.styles()]
        except (UserError, OSError) as exc:
            return self._refuse(str(exc))
        self.queue, self.finished_outs = queued, []
        self.output.clear()
        self._start_next()
        return True

    def _queued(self, setup: RunSetup, style: str, items: Sequence[Item], single: bool) -> QueuedRun:
        if self.session.dataset_path is None or self.session.videos_dir is None:
            raise UserError("Open a dataset and its videos folder first.")
        root = self.runs_root()
        out = single_out(root, setup, style, items[0].index) if single else batch_out(root, setup, style)
        if single:  # running an item again replaces its single-item run
            for stale in (out, manifest_path(out), subset_path(out)):
                stale.unlink(missing_ok=True)
        request = setup.request(style, self.session.dataset_path, self.session.videos_dir, out)
        spec = infer_job_spec(request, items, name=f"{setup.run_name(style)}")
        return QueuedRun(spec, out, style, single)

    def _refuse(self, message: str) -> bool:
        self.state.setText(message)
        self.status.emit(message)
        return False

    def _start_next(self) -> None:
        if not self.queue:
            self._set_running(False)
            return
        self._current = self.queue.pop(0)
        if self.job is not None:
            self.job.deleteLater()  # the previous job is over: its process and timers go
        job = Job(self._current.spec, self)
        job.records.connect(self._on_records)
        job.event.connect(self._on_event)
        job.log.connect(self._on_log)
        job.progress.connect(self._on_progress)
        job.finished.connect(self._on_finished)
        self.job = job
        self.progress.setRange(0, max(1, self._current.spec.total or 0))
        self.progress.setValue(0)
        self.state.setText(f"Starting {self._current.spec.name}…")
        self._set_running(True)
        self.output.appendPlainText(f"── {self._current.spec.name}")
        job.start()

    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.run_item_button.setEnabled(not running)
        self.run_batch_button.setEnabled(not running)

    # ---- following -------------------------------------------------------------------------
    def _on_records(self, records) -> None:
        for row in records:
            text = row.get("pred") or ""
            if row.get("error"):
                self.output.appendPlainText(f"item {row.get('index')}: failed: {row['error']}")
            elif self._current is not None and self._current.single:
                self.output.appendPlainText(text)
            else:
                self.output.appendPlainText(f"item {row.get('index')}: {_one_line(text)}")

    def _on_event(self, event: dict) -> None:
        if event.get("event") == "chunk" and isinstance(event.get("text"), str):
            cursor = self.output.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(event["text"])

    def _on_log(self, line: str) -> None:
        self.output.appendPlainText(f"  {line}")

    def _on_progress(self, progress) -> None:
        if progress.total:
            self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)
        self.state.setText(progress.describe())

    def _on_finished(self, outcome: JobOutcome) -> None:
        current = self._current
        self.state.setText(outcome.message)
        self.status.emit(outcome.message)
        if not outcome.ok or current is None:
            self.queue = []
            self._set_running(False)
            return
        self.run_ready.emit(current.out)
        self.finished_outs.append((current.style, current.out))
        if not self.queue and len(self.finished_outs) == 2:
            styles = dict(self.finished_outs)
            self.compare_ready.emit(styles["thinking"], styles["direct"])
        self._start_next()

    # ---- stopping --------------------------------------------------------------------------
    def cancel(self) -> None:
        self.queue = []
        if self.job is not None and self.job.running:
            self.state.setText("Cancelling…")
            self.job.cancel()

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def confirm_close(self) -> bool:
        """Ask before the window closes over a running job; True when closing may go on."""
        if not self.busy:
            return True
        answer = QMessageBox.question(
            self, "A run is going",
            f"{self.state.text()}\n\nStop it and close? Its finished items are kept; running the same "
            "batch again resumes it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def shutdown(self) -> None:
        """The window is closing: stop a running job (never leave an orphan)."""
        self.queue = []
        if self.job is not None:
            self.job.shutdown()


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
