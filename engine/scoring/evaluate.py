"""Scoring a whole prediction set against its items (from the lines' `input` or a dataset file)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.benchmark import DatasetError, Item, item_from_json
from engine.predictions import PredictionRecord, PredictionSet
from engine.results import ClueReport, ClueScore, CountScore, LongReport, Mode
from engine.scoring.aggregate import clue_report, long_report
from engine.scoring.blackbox import score_count
from engine.scoring.whitebox import score_clue


@dataclass
class Evaluation:
    """A prediction set's report plus the items it was scored against and what went wrong."""

    pset: PredictionSet
    report: LongReport | ClueReport
    items: dict[int, Item]
    warnings: list[str] = field(default_factory=list)


def evaluate_set(pset: PredictionSet, dataset: list[Item] | None = None, mode: Mode = "official") -> Evaluation:
    """Score every record; an item that cannot be read is a counted failure, never a crash."""
    by_index = {item.index: item for item in dataset or []}
    items: dict[int, Item] = {}
    warnings: list[str] = []
    long_scores: list[CountScore] = []
    clue_scores: list[ClueScore] = []
    for index, record in pset.records.items():
        item, problem = _item_for(record, by_index)
        if item is not None:
            items[index] = item
        if pset.protocol == "clue":
            clue_scores.append(score_clue(item, record.pred, mode) if item else _unreadable_clue(record, problem))
        elif item is not None or record.gt is not None:
            long_scores.append(_count_score(record, item, mode))
        else:
            warnings.append(f"{record.source}: left out ({problem}; no gt on the line)")
        if problem:
            warnings.append(f"{record.source}: {problem}")
    if dataset is not None:
        missing = sorted(set(by_index) - set(pset.records))
        if missing:
            warnings.append(f"{len(missing)} dataset items have no prediction (first: {missing[:5]})")
    report = clue_report(clue_scores) if pset.protocol == "clue" else long_report(long_scores)
    return Evaluation(pset, report, items, warnings)


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
