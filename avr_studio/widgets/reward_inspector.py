"""Reward inspector (Inspect view): what each training reward would give the selected prediction.

For the selected item and run A (and B when comparing), every protocol the run answered is sent to
`python -m training.inspect_rewards` as one JSON request through the job runner: the item becomes
the training row the trainer's converter makes, and the trainer's own reward functions score it.
The studio never imports `training`; a new selection cancels a request still going.
"""

from __future__ import annotations

import html
import json
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from avr_studio.workers.jobs import Job, JobOutcome, JobSpec, python_module_argv

PROTOCOLS = ("long", "ref", "clue")
DEBOUNCE_MS = 250


class RewardInspector(QWidget):
    answered = Signal(object)  # the parsed answer ({"results": [...]}) of the last request

    def __init__(self, session, selection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.selection = session, selection
        self.job: Job | None = None
        self.last_answer: dict | None = None
        self._lines: list[str] = []
        self._labels: list[tuple[str, str, str]] = []  # (protocol, label, run name) per prediction sent
        self._request_file = Path(tempfile.mkstemp(prefix="avr-rewards-", suffix=".json")[1])
        self.header = QLabel("Select an item")
        self.header.setWordWrap(True)
        self.view = QTextBrowser()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)
        for signal in (selection.item_changed, selection.run_changed, selection.compare_changed,
                       selection.compare_mode_changed):
            signal.connect(self._soon)

    def _soon(self, *_args) -> None:
        if self.isVisible():
            self._debounce.start()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self._debounce.start()
        super().showEvent(event)

    # ---- asking ----------------------------------------------------------------------------
    def request(self) -> dict | None:
        """The requests for the selection: one per protocol with A's (and B's) prediction."""
        item = self.session.item(self.selection.item_index)
        if item is None:
            return None
        runs = [("A", self.session.run(self.selection.run_name))]
        if self.selection.compare_mode:
            runs.append(("B", self.session.run(self.selection.compare_name)))
        requests, self._labels = [], []
        for protocol in PROTOCOLS:
            predictions = []
            for label, run in runs:
                text = run.pred_text(protocol, item.index) if run else None
                if text is not None:
                    predictions.append({"label": label, "pred": text})
                    self._labels.append((protocol, label, run.name))
            if predictions:
                requests.append({"item": item.to_json() if hasattr(item, "to_json") else dict(item.raw),
                                 "protocol": protocol, "predictions": predictions})
        return {"requests": requests} if requests else None

    def refresh(self) -> None:
        data = self.request()
        if data is None:
            self.header.setText("No prediction for this item in the selected run(s)")
            self.view.clear()
            return
        if self.job is not None and self.job.running:
            self.job.finished.disconnect()
            self.job.cancel()
        self._request_file.write_text(json.dumps(data), encoding="utf-8")
        self._lines = []
        self.header.setText("Scoring with the training rewards…")
        spec = JobSpec(name="reward inspector", niceness=0, threads=1, stop_timeout_s=2.0,
                       argv=python_module_argv("training.inspect_rewards", str(self._request_file)))
        self.job = Job(spec, self)
        self.job.log.connect(self._lines.append)
        self.job.finished.connect(self._on_finished)
        self.job.start()

    def _on_finished(self, outcome: JobOutcome) -> None:
        answer = None
        for line in reversed(self._lines):
            if line.startswith("{"):
                try:
                    answer = json.loads(line)
                    break
                except ValueError:
                    continue
        if answer is None or "error" in answer:
            why = (answer or {}).get("error") or outcome.message
            self.header.setText(f"The reward inspector failed: {why}")
            return
        self.last_answer = answer
        self.header.setText("Training rewards for this item (the trainer's converter and reward functions)")
        self.view.setHtml(render(answer))
        self.answered.emit(answer)

    def shutdown(self) -> None:
        self._debounce.stop()
        if self.job is not None:
            self.job.shutdown(2.0)
        self._request_file.unlink(missing_ok=True)


def render(answer: dict) -> str:
    parts = []
    for result in answer.get("results", []):
        protocol = result.get("protocol") or ""
        task = result.get("task")
        parts.append(f"<h4>{html.escape(protocol)} {'→ ' + html.escape(task) if task else ''}</h4>")
        if task is None:
            parts.append(f"<p><i>{html.escape(result.get('note') or 'no reward applies')}</i></p>")
            continue
        solution = json.dumps(result["row"]["solution"])
        parts.append(f"<p>solution: <code>{html.escape(_clip(solution))}</code></p>")
        parts.append("<table border=0 cellspacing=0 cellpadding=3><tr><th>run</th><th>parsed</th>"
                     "<th>reward</th><th>value</th><th>why 0</th></tr>")
        for prediction in result.get("predictions", []):
            parsed = html.escape(_clip(json.dumps(prediction.get("parsed"))))
            for k, reward in enumerate(prediction.get("rewards", [])):
                value = reward.get("value")
                colour = "#5cc46a" if value and value > 0.5 else "#d9a74a" if value else "#e0565b"
                shown = "n/a" if value is None else f"{value:.3f}"
                parts.append(f"<tr><td>{prediction.get('label') if k == 0 else ''}</td>"
                             f"<td><code>{parsed if k == 0 else ''}</code></td>"
                             f"<td>{html.escape(reward['name'])}</td><td style='color:{colour}'>{shown}</td>"
                             f"<td>{html.escape(reward.get('reason') or '')}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
