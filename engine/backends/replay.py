"""`replay`: answers read back from an earlier prediction set (benchmark folder or JSONL).

Useful to re-score, re-export or compare an old run through the same pipeline, and as a
fast, deterministic backend for tests. Uses engine.predictions' loader, the one reader of
the benchmark's prediction layout.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from engine.backends.base import BackendError, BackendUnavailable, ModelRequest, register_backend


class ReplayBackend:
    name = "replay"

    def __init__(self, source: str | Path | None = None, **_: object) -> None:
        if not source:
            raise BackendUnavailable("the replay backend needs --source PATH (a prediction folder or JSONL file)")
        self.source = Path(source)
        if not self.source.exists():
            raise BackendUnavailable(f"--source {self.source}: no such file or folder")
        self.model_id = f"replay:{self.source.resolve()}"
        self._answers: dict[str, dict[int, object]] = {}

    def _answers_for(self, protocol: str) -> dict[int, object]:
        if protocol not in self._answers:
            from engine.predictions import PredictionError, load_predictions

            protocol_hint = protocol if self.source.is_dir() else None
            try:
                pset = load_predictions(self.source, protocol_hint)
            except PredictionError as exc:
                raise BackendUnavailable(str(exc)) from None
            self._answers[protocol] = {index: record.pred for index, record in pset.records.items()}
        return self._answers[protocol]

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        answers = self._answers_for(request.protocol)
        if request.index not in answers:
            raise BackendError(f"{self.source.name} holds no answer for item {request.index}")
        pred = answers[request.index]
        yield pred if isinstance(pred, str) else str(pred)

    def close(self) -> None:
        self._answers.clear()


register_backend("replay", ReplayBackend)
