"""Transport bar: play/pause, frame step, hop, speed, clue jumps and loops. Writes to the Playhead."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QSizePolicy, QToolButton, QWidget

from avr_studio.models import Playhead
from avr_studio.models.playhead import HOP_SECONDS, SPEEDS
from avr_studio.widgets.labels import QuietLabel


def format_clock(t: float, hours: bool = True) -> str:
    """h:mm:ss.sss, or m:ss.sss with hours=False (videos under an hour: a narrower bar)."""
    minutes, seconds = divmod(max(0.0, t), 60.0)
    h, minutes = divmod(int(minutes), 60)
    return f"{h:d}:{minutes:02d}:{seconds:06.3f}" if hours or h else f"{minutes:d}:{seconds:06.3f}"


class Transport(QWidget):
    """Buttons mirror the keyboard shortcuts (the main window owns the shortcuts)."""

    def __init__(self, playhead: Playhead, actions: dict[str, Callable[[], None]], parent=None) -> None:
        super().__init__(parent)
        self.playhead = playhead
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QToolButton] = {}
        for key, text, tip in (
            ("prev_clue", "[", "previous clue ( [ )"),
            ("hop_back", f"-{HOP_SECONDS:g}s", "hop back (Shift+Left / J)"),
            ("step_back", "<|", "one frame back (Left)"),
            ("play", "Play", "play / pause (Space)"),
            ("step_forward", "|>", "one frame forward (Right)"),
            ("hop_forward", f"+{HOP_SECONDS:g}s", "hop forward (Shift+Right / L)"),
            ("next_clue", "]", "next clue ( ] )"),
            ("loop_clue", "Loop clue", "loop the selected / nearest clue (C)"),
            ("loop_query", "Loop query", "loop the query interval (Q)"),
        ):
            button = QToolButton()  # sized to its text: the bar must not widen the window
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(actions[key])
            if key.startswith("loop"):
                button.setCheckable(True)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
            layout.addWidget(button)
            self.buttons[key] = button
        self.speed = QComboBox()
        self.speed.addItems([f"{s:g}x" for s in SPEEDS])
        self.speed.setCurrentText("1x")
        self.speed.setToolTip("playback speed ( - / + )")
        self.speed.currentIndexChanged.connect(lambda i: playhead.set_speed(SPEEDS[i]))
        layout.addWidget(self.speed)
        self.clock = QuietLabel()  # elided, never widening or re-laying out the window (it changes every frame)
        self.clock.setObjectName("transportClock")
        # room for its widest text from the start, so it never changes the window's minimum size
        self.clock.setMinimumWidth(self.clock.fontMetrics().horizontalAdvance("0:00:00.000 / 0:00:00.000") + 12)
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout.addStretch(1)  # the clock is placed by the window (beside the frame's clock)
        playhead.time_changed.connect(self._show_time)
        playhead.media_changed.connect(lambda: self._show_time(playhead.time))
        playhead.playing_changed.connect(lambda p: self.buttons["play"].setText("Pause" if p else "Play"))
        playhead.speed_changed.connect(lambda s: self.speed.setCurrentIndex(SPEEDS.index(s)))
        self._show_time(0.0)

    def _show_time(self, _t: float) -> None:
        """The shown frame's own timestamp (the player's clock shows the same), not the requested time."""
        if not self.playhead.has_media:
            self.clock.setText("no video")
            return
        hours = self.playhead.duration >= 3600
        self.clock.setText(f"{format_clock(self.playhead.shown_time(), hours)} / "
                           f"{format_clock(self.playhead.duration, hours)}")

    def show_loop(self, owner: str | None) -> None:
        """Check the loop button that owns the active loop ("loop_clue", "loop_query" or None)."""
        for key in ("loop_clue", "loop_query"):
            self.buttons[key].blockSignals(True)
            self.buttons[key].setChecked(key == owner)
            self.buttons[key].blockSignals(False)
