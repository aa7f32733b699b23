"""Scoring a whole prediction set against its items (from the lines' `input` or a dataset file)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.benchmark import DatasetError, Item, item_from_json
from engine.bulk import acyclic_bulk_work
from engine.predictions import PredictionRecord, PredictionSet
from engine.results import ClueReport, ClueScore, CountScore, LongReport, Mode
from engine.scoring.aggregate import clue_report, long_report
from engine.scoring.blackbox import score_count
from engine.scoring.whitebox import score_clue


@dataclass
class Evaluation:
    """A prediction set's report plus the items it was scored against and what went wrong.

    `unanswered`: items the model gave no answer for (left out of the report). With a dataset,
    `not_in_dataset`: predicted items the dataset lacks (left out), `missing`: dataset items with
    no line at all. All three are sorted item indices.
    """

    pset: PredictionSet
    report: LongReport | ClueReport
    items: dict[int, Item]
    warnings: list[str] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    not_in_dataset: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


#: Warnings kept word for word per evaluation (the rest are counted in one line).
MAX_WARNINGS = 1000


def evaluate_set(pset: PredictionSet, dataset: list[Item] | None = None, mode: Mode = "official") -> Evaluation:
    """Score every record; an item that cannot be read is a counted failure, never a crash.

    With a dataset, only its items are scored: lines for other indices are counted and reported.
    """
    with acyclic_bulk_work():
        return _evaluate(pset, dataset, mode)


def _evaluate(pset: PredictionSet, dataset: list[Item] | None, mode: Mode) -> Evaluation:
    by_index = {item.index: item for item in dataset or []}
    items: dict[int, Item] = {}
    warnings: list[str] = list(pset.skip_reasons)
    if pset.skipped_lines > len(pset.skip_reasons):
        warnings.append(f"{pset.skipped_lines - len(pset.skip_reasons):,} more skipped lines")
    long_scores: list[CountScore] = []
    clue_scores: list[ClueScore] = []
    records = pset.records
    not_in_dataset: list[int] = []
    if dataset is not None:
        not_in_dataset = sorted(i for i in records if i not in by_index)
        records = {i: r for i, r in records.items() if i in by_index}
    for index, record in records.items():
        item, problem = _item_for(record, by_index)
        if item is not None:
            items[index] = item
        if pset.protocol == "clue":
            clue_scores.append(score_clue(item, record.pred, mode) if item else _unreadable_clue(record, problem))
        elif item is not None or record.gt is not None:
            long_scores.append(_count_score(record, item, mode))
        elif len(warnings) < MAX_WARNINGS:
            warnings.append(f"{record.source}: left out ({problem}; no gt on the line)")
        if problem and len(warnings) < MAX_WARNINGS:
            warnings.append(f"{record.source}: {problem}")
    unanswered = sorted(i for i in pset.unanswered if dataset is None or i in by_index)
    missing = sorted(set(by_index) - set(pset.records) - set(pset.unanswered))
    summary = _coverage_warnings(pset, unanswered, not_in_dataset, missing)
    report = clue_report(clue_scores) if pset.protocol == "clue" else long_report(long_scores)
    return Evaluation(pset, report, items, summary + warnings, unanswered, not_in_dataset, missing)


def _coverage_warnings(pset: PredictionSet, unanswered: list[int], not_in_dataset: list[int],
                       missing: list[int]) -> list[str]:
    """One line per kind of item left out of the report (these come before per-line warnings)."""
    out = []
    if unanswered:
        error = pset.unanswered[unanswered[0]]
        error = error if len(error) <= 120 else error[:119] + "…"
        out.append(f"{len(unanswered)} items unanswered by the model, left out (first: {unanswered[:5]}: {error})")
    if not_in_dataset:
        out.append(f"{len(not_in_dataset)} predicted items are not in the dataset, left out (first: {not_in_dataset[:5]})")
    if missing:
        out.append(f"{len(missing)} dataset items have no prediction (first: {missing[:5]})")
    return out


def _item_for(record: PredictionRecord, by_index: dict[int, Item]) -> tuple[Item | None, str | None]:
    if record.index in by_index:
        return by_index[record.index], None
    if record.input is None:
        return None, "no item: the line has no 'input' and the dataset lacks this index"
    try:
        return item_from_json(record.input, record.index), None
    except DatasetError as exc:
        return None, f"item unreadable: {exc}"


def _count_score(record: PredictionRecord, item: Item | None, mode: Mode) -> CountScore:
    if item is None:
        category = str((record.input or {}).get("category", "unknown"))
        item = Item(record.index, "", "", record.gt or 0, category, (), None, record.input or {})  # type: ignore[arg-type]
    return score_count(item, record.pred, record.gt, mode)


def _unreadable_clue(record: PredictionRecord, problem: str | None) -> ClueScore:
    category = str((record.input or {}).get("category", "unknown"))
    return ClueScore(record.index, category, 0.0, True, problem or "item unreadable")
