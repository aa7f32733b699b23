"""The warning shown next to numbers that involve a thinking run in official scoring, with a
one-click switch to strict scoring (never switched silently)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QSizePolicy, QWidget
from superqt import QElidingLabel

from avr_studio.models import Session
from engine.compare import thinking_note


class ThinkingNote(QWidget):
    """Visible only while `note_for(run names)` has something to say."""

    strict_requested = Signal()

    def __init__(self, session: Session, parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.label = QElidingLabel()
        self.label.setWordWrap(True)
        self.label.setObjectName("thinkingNote")
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = QPushButton("Use strict scoring")
        self.button.setToolTip("re-score every run reading <answer> tags (Scoring > Strict)")
        self.button.clicked.connect(self.strict_requested.emit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def show_for(self, run_names: list[str | None]) -> None:
        runs = [self.session.run(name) for name in run_names if name]
        note = thinking_note([run.name for run in runs if run is not None and run.thinking], self.session.mode)
        self.label.setText(note or "")
        self.label.setToolTip(note or "")
        self.setVisible(note is not None)
