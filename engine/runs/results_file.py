"""The run's JSONL results file: one row per answered (or failed) item, appended and fsynced.

Row: {"index", "pred", "gt", "input", "backend", "model", "reasoning", "prompt_set",
"prompt_hash", "seconds", "error"} -- the benchmark's {pred, gt, input} line plus who answered
and how. `error` is null or a one-line message (`pred` is then ""). Several rows may share an
index after a retry: the last one wins. A kill mid-write can leave a torn last line; it is cut
off before the next append, never scored, and its item is run again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError
from engine.io import append_jsonl

IDENTITY_FIELDS = ("backend", "model", "reasoning", "prompt_set", "prompt_hash")


class RunMismatch(UserError):
    """The results file was made by another backend, model, reasoning style or prompt set."""


def row_identity(row: dict) -> dict:
    return {key: row.get(key) for key in IDENTITY_FIELDS}


@dataclass
class ResultsFile:
    """Reads what a previous run left, then appends rows for one identity."""

    path: Path
    identity: dict
    latest: dict[int, dict] = field(default_factory=dict)
    torn_bytes: int = 0

    @classmethod
    def open(cls, path: str | Path, identity: dict) -> ResultsFile:
        """Load earlier rows (repairing a torn tail); RunMismatch if they come from another setup."""
        results = cls(Path(path), {key: identity.get(key) for key in IDENTITY_FIELDS})
        if results.path.exists():
            results.torn_bytes = _cut_torn_tail(results.path)
            for number, row in _rows(results.path):
                results._check(row, number)
                results.latest[row["index"]] = row
        return results

    @classmethod
    def precheck(cls, path: str | Path, identity: dict) -> None:
        """RunMismatch on the fields given (e.g. all but `model`), before an expensive model load."""
        results = cls(Path(path), dict(identity))
        if results.path.exists():
            for number, row in _rows(results.path, tolerate_torn_tail=True):
                results._check(row, number)

    def _check(self, row: dict, number: int) -> None:
        found = row_identity(row)
        keys = [k for k in IDENTITY_FIELDS if k in self.identity]
        if any(found[k] != self.identity[k] for k in keys):
            differs = ", ".join(f"{k} {found[k]!r} (now {self.identity[k]!r})"
                                for k in keys if found[k] != self.identity[k])
            raise RunMismatch(f"{self.path} line {number} was made with {differs}; "
                              "give another --out, or the same settings to resume it")

    def done(self) -> set[int]:
        """Indices whose latest row holds an answer (rows with an error are retried)."""
        return {index for index, row in self.latest.items() if row.get("error") is None}

    def failed(self) -> set[int]:
        return {index for index, row in self.latest.items() if row.get("error") is not None}

    def append(self, row: dict) -> None:
        append_jsonl(self.path, row)
        self.latest[row["index"]] = row


def _rows(path: Path, tolerate_torn_tail: bool = False) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if tolerate_torn_tail and not line.endswith("\n"):
                return
            try:
                row = json.loads(line)
            except ValueError:
                raise UserError(f"{path} line {number} is not JSON; this is not a results file of avr infer") from None
            if not isinstance(row, dict) or not isinstance(row.get("index"), int):
                raise UserError(f"{path} line {number} has no item index; this is not a results file of avr infer")
            yield number, row


def _cut_torn_tail(path: Path) -> int:
    """Drop a last line without its newline (a write cut by a kill); return the bytes removed."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as handle:
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return 0
        block = min(size, 1 << 20)
        while True:
            handle.seek(size - block)
            tail = handle.read(block)
            cut = tail.rfind(b"\n")
            if cut >= 0 or block == size:
                break
            block = min(size, block * 4)
        keep = size - block + cut + 1 if cut >= 0 else 0
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return size - keep
