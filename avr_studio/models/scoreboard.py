"""The scores every view shows: the engine's, with what-if edits re-scored by the engine."""

from __future__ import annotations

from psygnal import Signal

from avr_studio.models.edits import Edits
from avr_studio.models.session import Session
from engine.results import ClueReport, ClueScore
from engine.scoring import clue_report, score_parsed


class ScoreBoard:
    """Per-item clue scores with edits applied: the engine's own, `score_parsed` for an edited item."""
    changed = Signal(str, int)


    def __init__(self, session: Session, edits: Edits) -> None:
        self.session, self.edits = session, edits
        self._rescored: dict[tuple[str, int], ClueScore] = {}
        edits.changed.connect(self._on_edit)
        session.runs_changed.connect(self._clear)
        session.dataset_changed.connect(self._clear)

    def clue_score(self, run_name: str | None, index: int | None) -> ClueScore | None:
        run = self.session.run(run_name)
        if run is None or index is None:
            return None
        key = (run.name, index)
        if self.edits.has(*key):
            if key not in self._rescored:
                item = self.session.item(index)
                self._rescored[key] = score_parsed(item, self.edits.get(*key))
            return self._rescored[key]
        return run.clue_score(index)

    def original_score(self, run_name: str | None, index: int | None) -> ClueScore | None:
        run = self.session.run(run_name)
        return run.clue_score(index) if run and index is not None else None

    def totals(self, run_name: str | None) -> ClueReport | None:
        """The run's clue report (WCS, IFA) with its edited items re-scored, from `engine.scoring.clue_report`."""
        run = self.session.run(run_name)
        if run is None or not run.has_clues:
            return None
        report = run.reports["clue"]
        if self.edited_count(run.name) == 0:
            return report
        return clue_report([self.clue_score(run.name, index) for index in report.per_item])

    def edited_count(self, run_name: str | None) -> int:
        return sum(1 for key in self.edits.keys() if key[0] == run_name)

    def _on_edit(self, run: str, index: int) -> None:
        self._rescored.pop((run, index), None)
        self.changed.emit(run, index)

    def _clear(self) -> None:
        self._rescored.clear()
        self.edits.reset_all()
