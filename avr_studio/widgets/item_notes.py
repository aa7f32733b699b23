"""Tags and a note for the selected item of the shown run: renders `Annotations`, writes edits back.

A tag is added with Enter in the tag field (existing tags are offered as completions) and removed
by clicking it; the note is saved when the user pauses typing (500 ms) and when the item changes,
so nothing typed is lost. A save that fails is shown as a message, not a traceback.
"""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from avr_studio.models.annotations import Annotations
from engine.errors import UserError

NOTE_SAVE_DELAY_MS = 500


class ItemNotes(QWidget):
    status = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.annotations: Annotations | None = None
        self.index: int | None = None
        self.tag_buttons: list[QPushButton] = []
        self.tag_row = QHBoxLayout()
        self.tag_row.addStretch(1)
        self.tag_input = QLineEdit()
        self.tag_input.setPlaceholderText("add a tag, Enter")
        self.tag_input.returnPressed.connect(self._add_tag)
        self._completions = QStringListModel()
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.tag_input.setCompleter(completer)
        self.note = QPlainTextEdit()
        self.note.setPlaceholderText("a note about this item")
        self.note.textChanged.connect(lambda: self._save_note_soon.start())
        self._save_note_soon = QTimer(self)
        self._save_note_soon.setSingleShot(True)
        self._save_note_soon.setInterval(NOTE_SAVE_DELAY_MS)
        self._save_note_soon.timeout.connect(self.save_note)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Tags"))
        layout.addLayout(self.tag_row)
        layout.addWidget(self.tag_input)
        layout.addWidget(self.note, 1)
        self._loading = False
        self.show_item(None, None)

    def show_item(self, annotations: Annotations | None, index: int | None) -> None:
        """The run's annotations and the item to show (None: nothing to annotate)."""
        self.save_note()
        self.annotations, self.index = annotations, index
        enabled = annotations is not None and index is not None
        for widget in (self.tag_input, self.note):
            widget.setEnabled(enabled)
        self._loading = True
        self.note.setPlainText(annotations.get(index).note if enabled else "")
        self._loading = False
        self._save_note_soon.stop()
        self._render_tags()

    def _render_tags(self) -> None:
        for button in self.tag_buttons:
            self.tag_row.removeWidget(button)
            button.deleteLater()
        self.tag_buttons = []
        if self.annotations is None or self.index is None:
            return
        for position, tag in enumerate(self.annotations.get(self.index).tags):
            button = QPushButton(f"{tag}  ×")
            button.setToolTip(f"remove the tag {tag!r}")
            button.clicked.connect(lambda _checked=False, t=tag: self._remove_tag(t))
            self.tag_row.insertWidget(position, button)
            self.tag_buttons.append(button)
        self._completions.setStringList([tag for tag, _count in self.annotations.tags()])

    def _add_tag(self) -> None:
        if self.annotations is None or self.index is None or not self.tag_input.text().strip():
            return
        if self._apply(lambda: self.annotations.add_tag(self.index, self.tag_input.text())):
            self.tag_input.clear()
            self._render_tags()

    def _remove_tag(self, tag: str) -> None:
        if self.annotations is not None and self.index is not None:
            self._apply(lambda: self.annotations.remove_tag(self.index, tag))
            self._render_tags()

    def save_note(self) -> None:
        if self._loading or self.annotations is None or self.index is None:
            return
        self._save_note_soon.stop()
        self._apply(lambda: self.annotations.set_note(self.index, self.note.toPlainText()))

    def _apply(self, change) -> bool:
        try:
            change()
        except UserError as exc:
            self.status.emit(str(exc))
            return False
        return True
