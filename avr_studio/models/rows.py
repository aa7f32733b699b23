"""One browser row per item (plain values) and the filter over them, apart from any table widget."""

from __future__ import annotations

from dataclasses import dataclass

from avr_studio.models.scoreboard import ScoreBoard
from avr_studio.models.session import Run
from engine.benchmark import Item

OUTCOMES = ("all", "correct", "wrong", "failed to parse", "runs disagree",
            "A right, B wrong", "B right, A wrong", "both wrong")
#: Two runs "disagree" on an item when counts differ or their clue scores differ by this much.
DISAGREE_SCORE = 0.1


@dataclass(frozen=True)
class ItemRow:
    index: int
    category: str
    modality: str
    question: str
    gt: int
    pred: float | None  # the run's count (long, else ref); None when missing or unparsable
    abs_error: float | None
    wcs: float | None  # 100 x the clue score (with edits)
    ifa_failure: bool | None  # the clue answer could not be read/scored
    count_failure: bool | None
    disagree: bool
    b_pred: float | None = None  # run B's count (compare view)
    b_abs_error: float | None = None
    b_wcs: float | None = None
    b_count_failure: bool | None = None

    @property
    def b_correct(self) -> bool | None:
        return None if self.b_abs_error is None else self.b_abs_error < 1e-5

    @property
    def wcs_difference(self) -> float | None:
        """B - A on the item's WCS (what-if edits included)."""
        return None if self.wcs is None or self.b_wcs is None else self.b_wcs - self.wcs

    @property
    def correct(self) -> bool | None:
        return None if self.abs_error is None else self.abs_error < 1e-5

    @property
    def parse_failure(self) -> bool:
        return bool(self.ifa_failure) or bool(self.count_failure)


def build_row(item: Item, run: Run | None, other: Run | None, scores: ScoreBoard) -> ItemRow:
    count = run.count_score(item.index) if run else None
    clue = scores.clue_score(run.name, item.index) if run else None
    b_count = other.count_score(item.index) if other else None
    b_clue = scores.clue_score(other.name, item.index) if other else None
    return ItemRow(
        index=item.index,
        category=item.category,
        modality=item.modality or "",
        question=item.question,
        gt=item.answer,
        pred=count.count if count else None,
        abs_error=count.abs_error if count else None,
        wcs=100.0 * clue.score if clue else None,
        ifa_failure=clue.failed if clue else None,
        count_failure=count.failed if count else None,
        disagree=runs_disagree(item.index, run, other, scores),
        b_pred=b_count.count if b_count else None,
        b_abs_error=b_count.abs_error if b_count else None,
        b_wcs=100.0 * b_clue.score if b_clue else None,
        b_count_failure=b_count.failed if b_count else None,
    )


def runs_disagree(index: int, a: Run | None, b: Run | None, scores: ScoreBoard) -> bool:
    if a is None or b is None or a.name == b.name:
        return False
    ca, cb = a.count_score(index), b.count_score(index)
    if ca and cb and ca.count != cb.count:
        return True
    sa, sb = scores.clue_score(a.name, index), scores.clue_score(b.name, index)
    if sa and sb:
        return sa.failed != sb.failed or abs(sa.score - sb.score) >= DISAGREE_SCORE
    return False


@dataclass(frozen=True)
class RowFilter:
    category: str = "all"
    modality: str = "all"
    outcome: str = "all"
    text: str = ""
    only: frozenset[int] | None = None  # items picked elsewhere (an error-totals count, a tag)

    def accepts(self, row: ItemRow) -> bool:
        if self.only is not None and row.index not in self.only:
            return False
        if self.category != "all" and row.category != self.category:
            return False
        if self.modality != "all" and row.modality != self.modality:
            return False
        if not self._outcome_ok(row):
            return False
        needle = self.text.strip().lower()
        return not needle or needle in row.question.lower() or needle == str(row.index)

    def _outcome_ok(self, row: ItemRow) -> bool:
        return {
            "all": True,
            "correct": row.correct is True,
            "wrong": row.correct is False,
            "failed to parse": row.parse_failure,
            "runs disagree": row.disagree,
            "A right, B wrong": row.correct is True and row.b_correct is False,
            "B right, A wrong": row.correct is False and row.b_correct is True,
            "both wrong": row.correct is False and row.b_correct is False,
        }[self.outcome]
