"""The model's text for the selected item, with every timestamp a link that seeks the player.

Renders `avr_studio.models.timestamps.linkify`; a click calls `seek(seconds)` (the window passes
`playhead.seek`). Other links are ignored, never opened.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QTextBrowser, QWidget

from avr_studio.models.timestamps import linkify, seek_target


class ReasoningView(QTextBrowser):
    seek_requested = Signal(float)

    def __init__(self, seek: Callable[[float], None] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setPlaceholderText("The selected run's answer for this item")
        self.anchorClicked.connect(self._on_link)
        if seek is not None:
            self.seek_requested.connect(seek)
        self.text = ""

    def show_text(self, text: str | None) -> None:
        self.text = text or ""
        self.setHtml(linkify(self.text))

    def _on_link(self, url: QUrl) -> None:
        seconds = seek_target(url.toString())
        if seconds is not None:
            self.seek_requested.emit(seconds)
