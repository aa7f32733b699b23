"""Labels for text of any length: elided, never widening the window (issue 10, defect 1)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from superqt import QElidingLabel


def plain_label(wrap: bool = False) -> QElidingLabel:
    """A plain-text label that elides what does not fit instead of raising the minimum width."""
    label = QElidingLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(wrap)
    label.setMinimumWidth(40)
    return label
