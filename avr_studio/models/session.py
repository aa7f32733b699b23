"""What is open: the dataset, the videos folder and the loaded prediction runs, each scored once.

Scores come from `engine.scoring.evaluate_set`; the session only caches them per run so every view
shows the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from psygnal import Signal

from engine.benchmark import Item, load_dataset
from engine.compare import looks_thinking
from engine.errors import UserError
from engine.predictions import PredictionSet, load_run, run_name
from engine.results import ClueReport, ClueScore, CountScore, LongReport
from engine.scoring import evaluate_set

#: Protocols whose count is shown in the browser, in order of preference.
COUNT_PROTOCOLS = ("long", "ref")


class RunNameError(UserError):
    """A run name given on the command line that fits no run, or several."""


@dataclass(frozen=True)
class Run:
    """One model run: up to one prediction set per protocol, with the engine's reports."""

    name: str
    path: Path
    sets: dict[str, PredictionSet]
    reports: dict[str, LongReport | ClueReport] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self.sets)

    def count_score(self, index: int) -> CountScore | None:
        """The black-box score of an item: the long protocol first, else ref."""
        for protocol in COUNT_PROTOCOLS:
            report = self.reports.get(protocol)
            if isinstance(report, LongReport) and index in report.per_item:
                return report.per_item[index]
        return None

    def clue_score(self, index: int) -> ClueScore | None:
        report = self.reports.get("clue")
        if isinstance(report, ClueReport):
            return report.per_item.get(index)
        return None

    def pred_text(self, protocol: str, index: int) -> str | None:
        pset = self.sets.get(protocol)
        record = pset.records.get(index) if pset else None
        return record.pred if record else None

    @property
    def has_clues(self) -> bool:
        return "clue" in self.sets

    @cached_property
    def thinking(self) -> bool:
        """Most answers are <answer>-tagged: official scoring reads none of their counts."""
        return looks_thinking(r.pred for pset in self.sets.values() for r in pset.records.values())


class Session:
    """The open dataset, videos folder and runs. Loading errors propagate as the engine's typed errors."""
    dataset_changed = Signal()
    videos_changed = Signal()
    runs_changed = Signal()


    def __init__(self, mode: str = "official") -> None:
        self.mode = mode
        self.dataset_path: Path | None = None
        self.items: list[Item] = []
        self.videos_dir: Path | None = None
        self.runs: list[Run] = []

    # ---- loading -------------------------------------------------------------------------
    def open_dataset(self, path: str | Path) -> None:
        path = Path(path)
        items = load_dataset(path)
        self.dataset_path, self.items = path, items
        self.runs = [self._score_run(run.name, run.path, run.sets) for run in self.runs]
        self.dataset_changed.emit()
        if self.runs:
            self.runs_changed.emit()

    def set_mode(self, mode: str) -> None:
        """Re-score every run in `official` (the benchmark's scripts) or `strict` parsing mode."""
        if mode not in ("official", "strict"):
            raise ValueError(f"unknown scoring mode {mode!r}")
        if mode == self.mode:
            return
        self.mode = mode
        self.runs = [self._score_run(run.name, run.path, run.sets) for run in self.runs]
        self.runs_changed.emit()

    def set_videos_dir(self, path: str | Path | None) -> None:
        self.videos_dir = Path(path) if path else None
        self.videos_changed.emit()

    def add_run(self, path: str | Path) -> Run:
        """Load a run; a run already open under the same name is replaced."""
        path = Path(path)
        run = self._score_run(self._unique_name(run_name(path), path), path, load_run(path))
        self.runs = [r for r in self.runs if r.path != path] + [run]
        self.runs_changed.emit()
        return run

    def remove_run(self, name: str) -> None:
        self.runs = [r for r in self.runs if r.name != name]
        self.runs_changed.emit()

    def _unique_name(self, name: str, path: Path) -> str:
        taken = {r.name for r in self.runs if r.path != path}
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name} ({n})", n + 1
        return candidate

    def _score_run(self, name: str, path: Path, sets: dict[str, PredictionSet]) -> Run:
        dataset = self.items or None
        evaluations = {protocol: evaluate_set(pset, dataset, self.mode) for protocol, pset in sets.items()}
        reports = {protocol: ev.report for protocol, ev in evaluations.items()}
        warnings = tuple(w for ev in evaluations.values() for w in ev.warnings)
        return Run(name, path, sets, reports, warnings)

    # ---- look-ups ------------------------------------------------------------------------
    def item(self, index: int | None) -> Item | None:
        if index is None:
            return None
        return self._by_index().get(index)

    def _by_index(self) -> dict[int, Item]:
        cached = getattr(self, "_index_cache", None)
        if cached is None or cached[0] is not self.items:
            cached = (self.items, {item.index: item for item in self.items})
            self._index_cache = cached
        return cached[1]

    def run(self, name: str | None) -> Run | None:
        return next((r for r in self.runs if r.name == name), None)

    def find_run(self, text: str) -> Run:
        """A run by its name as shown, else by a part of it (case-insensitive); a part that fits
        several runs is an error that names them."""
        exact = self.run(text)
        if exact is not None:
            return exact
        matches = [r for r in self.runs if text.lower() in r.name.lower()]
        if len(matches) == 1:
            return matches[0]
        shown = ", ".join(r.name for r in self.runs) or "none loaded"
        if not matches:
            raise RunNameError(f"no run named {text!r} (runs: {shown})")
        raise RunNameError(f"{text!r} matches {len(matches)} runs: {', '.join(r.name for r in matches)}")

    def video_path(self, item: Item) -> Path:
        """Where the item's video should be: absolute as given, else under the videos folder
        (or next to the dataset when no folder was chosen)."""
        video = Path(item.video)
        if video.is_absolute():
            return video
        base = self.videos_dir or (self.dataset_path.parent if self.dataset_path else Path.cwd())
        return base / video

    @property
    def modalities(self) -> list[str]:
        return sorted({m for m in (item.modality for item in self.items) if m})
