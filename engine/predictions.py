"""Prediction sets in the benchmark's layout: protocol folders of .txt files, or JSONL.

Each line is `{"pred": <model text>, "gt": <answer>, "input": <the item>}`; lines
that are not JSON objects are skipped and counted, as the benchmark's scripts skip them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError
from engine.io import write_text_atomic

PROTOCOLS = ("long", "ref", "clue")
_FOLDER_PROTOCOL = {"long_acc": "long", "ref_acc": "ref", "clue_acc": "clue"}
#: A line longer than this is not a model answer we can use; it is skipped, not loaded.
MAX_LINE_CHARS = 5_000_000


class PredictionError(UserError, ValueError):
    """A prediction path that cannot be used at all (one-line message)."""


@dataclass(frozen=True)
class PredictionRecord:
    index: int
    pred: str
    gt: int | None
    input: dict | None
    source: str


@dataclass
class PredictionSet:
    name: str
    protocol: str
    path: Path
    records: dict[int, PredictionRecord] = field(default_factory=dict)
    skipped_lines: int = 0
    skip_reasons: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def protocol_folder(protocol: str) -> str:
    return {v: k for k, v in _FOLDER_PROTOCOL.items()}[protocol]


def load_predictions(path: str | Path, protocol: str | None = None) -> PredictionSet:
    """Load a protocol folder, a folder holding protocol folders (pick with `protocol`), or JSONL."""
    path = Path(path)
    if not path.exists():
        raise PredictionError(f"{path}: no such file or folder")
    if protocol is not None and protocol not in PROTOCOLS:
        raise PredictionError(f"unknown protocol {protocol!r} (use one of {', '.join(PROTOCOLS)})")
    if path.is_dir():
        path = _protocol_dir(path, protocol)
        files = sorted(path.glob("*.txt"), key=_natural_key)
        if not files:
            raise PredictionError(f"{path}: no .txt prediction files in this folder")
    else:
        files = [path]
    pset = PredictionSet(name=_run_name(path), protocol=protocol or "", path=path)
    for source, record in _records(files, pset):
        if record.index in pset.records:
            pset.skipped_lines += 1
            pset.skip_reasons.append(f"{source}: index {record.index} repeats; the first line is kept")
            continue
        pset.records[record.index] = record
    if not pset.records:
        raise PredictionError(f"{path}: no readable prediction lines ({pset.skipped_lines} skipped)")
    pset.protocol = protocol or _FOLDER_PROTOCOL.get(path.name) or guess_protocol(pset)
    return pset


def _protocol_dir(path: Path, protocol: str | None) -> Path:
    present = [p for p in _FOLDER_PROTOCOL if (path / p).is_dir()]
    if not present:
        return path
    if protocol is not None:
        wanted = path / protocol_folder(protocol)
        if not wanted.is_dir():
            raise PredictionError(f"{path}: no {wanted.name}/ folder (found {', '.join(present)})")
        return wanted
    if len(present) > 1:
        raise PredictionError(f"{path}: holds {', '.join(present)}; choose one with --protocol")
    return path / present[0]


def _natural_key(path: Path) -> tuple:
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def _run_name(path: Path) -> str:
    if path.is_dir() and path.name in _FOLDER_PROTOCOL:
        return path.parent.name
    return path.stem if path.is_file() else path.name


def _records(files: list[Path], pset: PredictionSet) -> Iterator[tuple[str, PredictionRecord]]:
    for file in files:
        try:
            handle = open(file, encoding="utf-8", errors="replace")
        except OSError as exc:
            pset.skipped_lines += 1
            pset.skip_reasons.append(f"{file.name}: cannot read ({exc.strerror})")
            continue
        with handle:
            for number, line in enumerate(handle, start=1):
                source = f"{file.name}:{number}"
                record, reason = _parse_line(line, source)
                if record is not None:
                    yield source, record
                elif reason:
                    pset.skipped_lines += 1
                    pset.skip_reasons.append(f"{source}: {reason}")


def _parse_line(line: str, source: str) -> tuple[PredictionRecord | None, str | None]:
    if not line.strip():
        return None, None
    if len(line) > MAX_LINE_CHARS:
        return None, f"line of {len(line):,} characters is too long"
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None, "not JSON"
    if not isinstance(obj, dict) or "pred" not in obj:
        return None, "not a {pred, gt, input} object"
    item = obj.get("input") if isinstance(obj.get("input"), dict) else None
    index = _index_of(obj, item)
    if index is None:
        return None, "no item index (input.index)"
    gt = obj.get("gt")
    gt = gt if isinstance(gt, int) and not isinstance(gt, bool) else None
    # A non-text "pred" is kept as it is: the scorers count it as a failure, as the scripts do.
    return PredictionRecord(index, obj["pred"], gt, item, source), None


def _index_of(obj: dict, item: dict | None) -> int | None:
    for value in (item or {}).get("index"), obj.get("index"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def guess_protocol(pset: PredictionSet) -> str:
    """Clue answers are JSON geometry; counts are short text."""
    sample = list(pset.records.values())[:50]
    structured = sum(("[" in r.pred or "{" in r.pred) for r in sample)
    return "clue" if structured * 2 > len(sample) else "long"


def write_prediction_folder(folder: str | Path, records: Iterable[PredictionRecord | dict]) -> None:
    """Write records in the benchmark layout, one `<index>.txt` per item, atomically."""
    folder = Path(folder)
    for record in records:
        if isinstance(record, PredictionRecord):
            record = {"pred": record.pred, "gt": record.gt, "input": record.input}
        index = record["input"]["index"]
        write_text_atomic(folder / f"{index}.txt", json.dumps(record, ensure_ascii=False) + "\n")
