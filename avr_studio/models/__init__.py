"""Plain view-models of the studio (no Qt): widgets subscribe to their signals and write user input back."""

from avr_studio.models.edits import Edits
from avr_studio.models.playhead import Playhead
from avr_studio.models.scoreboard import ScoreBoard
from avr_studio.models.selection import Selection
from avr_studio.models.session import Run, Session
from avr_studio.models.signals import Signal

__all__ = ["Edits", "Playhead", "Run", "ScoreBoard", "Selection", "Session", "Signal"]
