"""Plain view-models of the studio (no Qt): widgets subscribe to their psygnal signals (weakly held
for bound methods) and write user input back."""

from avr_studio.models.edits import Edits
from avr_studio.models.playhead import Playhead
from avr_studio.models.scoreboard import ScoreBoard
from avr_studio.models.selection import Selection
from avr_studio.models.session import Run, Session

__all__ = ["Edits", "Playhead", "Run", "ScoreBoard", "Selection", "Session", "disconnect_all"]


def disconnect_all(*models: object) -> None:
    """Drop every subscriber of the models' signals: a closed window must not stay reachable through
    callbacks held strongly (lambdas)."""
    from psygnal import SignalInstance

    for model in models:
        for name in dir(type(model)):
            value = getattr(model, name, None)
            if isinstance(value, SignalInstance):
                value.disconnect()
