"""Resumable batch inference: the run's spec, its results file (JSONL rows), the batch loop
with progress events, and a manifest beside the results file for other programs (the studio)."""

from engine.runs.loop import ItemDone, RunSummary, run_batch
from engine.runs.results_file import ResultsFile, RunMismatch, row_identity
from engine.runs.spec import RunSpec

__all__ = ["ItemDone", "ResultsFile", "RunMismatch", "RunSpec", "RunSummary", "row_identity", "run_batch"]
