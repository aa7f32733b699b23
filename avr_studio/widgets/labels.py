"""Labels for text of any length: elided, never widening the window (issue 10, defect 1), and never
re-laying it out.

A QLabel asks its parents to redo their layouts on every `setText` (`updateGeometry`); in the studio
that climbs through the splitters to the tab widget, which then repaints the whole window: the item
clock, the panel titles and the scores change on every item switch, so each switch paid two or
three full-window repaints. A `QuietLabel` has size hints fixed by its font and line count, so a new
text repaints the label and nothing else.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter, QPalette, QTextLayout
from PySide6.QtWidgets import QLabel, QSizePolicy

MIN_WIDTH = 40


class QuietLabel(QLabel):
    """Plain text in at most `lines` lines (wrapped at spaces, the last line elided); changing the
    text never changes the size hints. `tooltip=True`: the full text is the tooltip (it may be cut)."""

    def __init__(self, text: str = "", lines: int = 1, tooltip: bool = False, parent=None) -> None:
        super().__init__(parent)
        self._text = ""
        self._lines = max(1, lines)
        self._tooltip = tooltip
        self._shown: tuple[int, str] | None = None  # (width, text) the elided lines were made for
        self._shown_lines: list[str] = []
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMinimumWidth(MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        if self._lines > 1:
            self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setText(text)

    # ---- text ----------------------------------------------------------------------------
    def setText(self, text: str) -> None:  # noqa: N802 (Qt API)
        text = "" if text is None else str(text)
        if text == self._text:
            return
        self._text = text
        if self._tooltip:
            self.setToolTip(text)
        self.update()

    def text(self) -> str:
        return self._text

    def full_text(self) -> str:
        """The whole text (superqt's QElidingLabel name for it)."""
        return self._text

    def shown_lines(self) -> list[str]:
        """The lines as drawn at the current width (the last one elided if the text does not fit)."""
        key = (self.contentsRect().width(), self._text)
        if key != self._shown:
            self._shown, self._shown_lines = key, self._layout_lines(*key)
        return self._shown_lines

    def _layout_lines(self, width: int, text: str) -> list[str]:
        metrics = QFontMetrics(self.font())
        if not text or width <= 0:
            return []
        flat = " ".join(text.split("\n")) if self._lines == 1 else text
        if self._lines == 1:
            return [metrics.elidedText(flat, Qt.TextElideMode.ElideRight, width)]
        layout = QTextLayout(flat, self.font())
        layout.beginLayout()
        lines: list[str] = []
        while len(lines) < self._lines - 1:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            lines.append(flat[line.textStart(): line.textStart() + line.textLength()].rstrip("\n"))
        consumed = sum(len(line) for line in lines)
        layout.endLayout()
        rest = flat[consumed:].replace("\n", " ").strip() if len(lines) == self._lines - 1 else ""
        if rest:
            lines.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width))
        return [line.rstrip() for line in lines]

    # ---- size: fixed by the font and the line count ----------------------------------------
    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        margins = self.contentsMargins()
        height = self._lines * QFontMetrics(self.font()).lineSpacing() + margins.top() + margins.bottom()
        return QSize(MIN_WIDTH, height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return self.sizeHint()

    def heightForWidth(self, _width: int) -> int:  # noqa: N802 (Qt API)
        return self.sizeHint().height()

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt API)
        return False

    def changeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.FontChange:  # the style sheet's font: a new fixed height, once
            self._shown = None
            self.updateGeometry()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)  # frame and background as styled (the QLabel's own text is empty)
        lines = self.shown_lines()
        if not lines:
            return
        painter = QPainter(self)
        rect = self.contentsRect()
        align = self.alignment()
        if not align & Qt.AlignmentFlag.AlignVertical_Mask:
            align |= Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(painter, rect, int(align), self.palette(), self.isEnabled(), "\n".join(lines),
                                  QPalette.ColorRole.WindowText)
        painter.end()

    # ---- QLabel's own text is never used -------------------------------------------------------
    def setWordWrap(self, on: bool) -> None:  # noqa: N802 (Qt API)
        """Kept for callers written for QLabel: the line count, fixed at construction, decides."""


def plain_label(wrap: bool = False) -> QuietLabel:
    """A plain-text label that elides what does not fit instead of raising the minimum width or
    re-laying out the window; `wrap`: two lines, the full text as tooltip."""
    return QuietLabel(lines=2 if wrap else 1, tooltip=wrap)

