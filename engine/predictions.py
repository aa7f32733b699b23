"""Prediction sets in the benchmark's layout: protocol folders of .txt files, or JSONL.

Each line is `{"pred": <model text>, "gt": <answer>, "input": <the item>}`; lines
that are not JSON objects are skipped and counted, as the benchmark's scripts skip them.
Lines written by `avr infer` may also carry `"error"`: a non-empty message there means the
model gave no answer, so the item is left out of scoring (as the scripts leave no file for
it) and reported as unanswered.

This module is the one place that knows the folder names of the layout (`PROTOCOL_FOLDERS`) and
how a run is found on disk (`load_run`); the CLI, the studio and synth all go through it.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from engine.benchmark import MAX_ANSWER
from engine.bulk import acyclic_bulk_work
from engine.errors import UserError
from engine.io import write_text_atomic

PROTOCOLS = ("long", "ref", "clue")
#: Folder names of the benchmark's prediction layout -> protocol, in report order.
PROTOCOL_FOLDERS = {"long_acc": "long", "ref_acc": "ref", "clue_acc": "clue"}
#: A line longer than this is not a model answer we can use; it is skipped, not loaded.
MAX_LINE_CHARS = 5_000_000
#: A line with no end after this many characters (an endless file such as /dev/zero) stops the file.
MAX_SKIPPED_LINE_CHARS = 64_000_000
#: No prediction file is read past this many characters; the rest is reported, not loaded.
MAX_FILE_CHARS = 2**30
#: How many skip reasons are kept word for word (all are counted).
MAX_REASONS = 1000
_CHUNK_CHARS = 1 << 20


class PredictionError(UserError, ValueError):
    """A prediction path that cannot be used at all (one-line message)."""


@dataclass(frozen=True, slots=True)
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
    #: index -> the model's error message, for items whose every line says the model gave no answer.
    unanswered: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def skip(self, reason: str) -> None:
        self.skipped_lines += 1
        if len(self.skip_reasons) < MAX_REASONS:
            self.skip_reasons.append(reason)


def protocol_folder(protocol: str) -> str:
    """`clue` -> `clue_acc`."""
    for folder, name in PROTOCOL_FOLDERS.items():
        if name == protocol:
            return folder
    raise PredictionError(f"unknown protocol {protocol!r} (use one of {', '.join(PROTOCOLS)})")


def run_name(path: str | Path) -> str:
    """A protocol folder is named after its run (`runA/clue_acc` -> `runA`), a file by its stem."""
    path = Path(path)
    if path.name in PROTOCOL_FOLDERS:
        return path.parent.name or path.name
    return path.stem if _is_file(path) else path.name


def run_protocols(path: str | Path) -> list[str]:
    """Protocols whose folders a run folder holds, in PROTOCOL_FOLDERS order (empty: not a run folder)."""
    path = Path(path)
    if not _is_dir(path):
        return []
    return [protocol for folder, protocol in PROTOCOL_FOLDERS.items() if _is_dir(path / folder)]


def load_run(path: str | Path, protocol: str | None = None) -> dict[str, PredictionSet]:
    """Every prediction set of a run: a folder holding protocol folders, one protocol folder, or one
    JSONL file (protocol from `protocol`, else detected). Keyed by protocol."""
    path = Path(path)
    protocols = [protocol] if protocol else run_protocols(path) or [None]
    sets = [load_predictions(path, p) for p in protocols]
    return {pset.protocol: pset for pset in sets}


def load_predictions(path: str | Path, protocol: str | None = None) -> PredictionSet:
    """Load a protocol folder, a folder holding protocol folders (pick with `protocol`), or JSONL."""
    path = Path(path)
    if not _exists(path):
        raise PredictionError(f"{path}: no such file or folder")
    if protocol is not None and protocol not in PROTOCOLS:
        raise PredictionError(f"unknown protocol {protocol!r} (use one of {', '.join(PROTOCOLS)})")
    if _is_dir(path):
        path = _protocol_dir(path, protocol)
        files = _txt_files(path)
    else:
        files = [path]
    pset = PredictionSet(name=run_name(path), protocol=protocol or "", path=path)
    with acyclic_bulk_work():
        for source, record in _records(files, pset):
            if record.index in pset.records:
                pset.skip(f"{source}: index {record.index} repeats; the first line is kept")
                continue
            pset.records[record.index] = record
            pset.unanswered.pop(record.index, None)
    if not pset.records and not pset.unanswered:
        first = f"; first: {pset.skip_reasons[0]}" if pset.skip_reasons else ""
        raise PredictionError(f"{path}: no readable prediction lines ({pset.skipped_lines} skipped{first})")
    pset.protocol = (protocol or PROTOCOL_FOLDERS.get(path.name) or _protocol_of_infer_run(path)
                     or guess_protocol(pset))
    return pset


def _protocol_of_infer_run(path: Path) -> str | None:
    """The protocol `avr infer` recorded in the manifest beside its JSONL (a model's stray
    brackets must not turn a count run into a clue run)."""
    manifest = path.with_name(path.name + ".manifest.json")
    try:
        protocol = json.loads(manifest.read_text(encoding="utf-8"))["spec"]["protocol"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return protocol if protocol in PROTOCOLS else None


# ---------------------------------------------------------------- the file system, as user errors
def _os_call(path: Path, call):
    try:
        return call()
    except OSError as exc:
        raise PredictionError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _exists(path: Path) -> bool:
    return _os_call(path, path.exists)


def _is_dir(path: Path) -> bool:
    return _os_call(path, path.is_dir)


def _is_file(path: Path) -> bool:
    return _os_call(path, path.is_file)


def _protocol_dir(path: Path, protocol: str | None) -> Path:
    present = [folder for folder in PROTOCOL_FOLDERS if _is_dir(path / folder)]
    if not present:
        return path
    if protocol is not None:
        wanted = path / protocol_folder(protocol)
        if not _is_dir(wanted):
            raise PredictionError(f"{path}: no {wanted.name}/ folder (found {', '.join(present)})")
        return wanted
    if len(present) > 1:
        raise PredictionError(f"{path}: holds {', '.join(present)}; choose one with --protocol")
    return path / present[0]


def _txt_files(folder: Path) -> list[Path]:
    """The folder's `<index>.txt` files in natural order (hidden files, such as our temp files, left out)."""
    names = _os_call(folder, lambda: os.listdir(folder))
    files = sorted((folder / n for n in names if n.endswith(".txt") and not n.startswith(".")), key=_natural_key)
    if not files:
        raise PredictionError(f"{folder}: no .txt prediction files in this folder")
    return files


def _natural_key(path: Path) -> tuple:
    stem = path.stem
    return (0, int(stem), "") if stem.isascii() and stem.isdigit() else (1, 0, stem)


# ---------------------------------------------------------------- lines
def _records(files: list[Path], pset: PredictionSet) -> Iterator[tuple[str, PredictionRecord]]:
    for file in files:
        try:
            handle = open(file, encoding="utf-8", errors="replace")
        except OSError as exc:
            pset.skip(f"{file.name}: cannot read ({exc.strerror or exc})")
            continue
        with handle:
            for number, line in _bounded_lines(handle, file.name, pset):
                source = f"{file.name}:{number}"
                record, reason = _parse_line(line, source, pset)
                if record is not None:
                    yield source, record
                elif reason:
                    pset.skip(f"{source}: {reason}")


def _bounded_lines(handle: IO[str], name: str, pset: PredictionSet) -> Iterator[tuple[int, str]]:
    """Lines of at most MAX_LINE_CHARS; longer ones are skipped in chunks (never held whole), and
    an endless line or file stops the reading with a reason, so memory stays bounded."""
    number, total = 0, 0
    while True:
        line = handle.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        total += len(line)
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            length, ended = _skip_rest_of_line(handle, len(line))
            total += length - len(line)
            if not ended:
                pset.skip(f"{name}:{number}: line has no end within {length:,} characters; the rest of the file is not read")
                return
            pset.skip(f"{name}:{number}: line of {length:,} characters is too long (limit {MAX_LINE_CHARS:,})")
        else:
            yield number, line
        if total > MAX_FILE_CHARS:
            pset.skip(f"{name}: stopped after {total:,} characters (line {number}); the rest of the file is not read")
            return


def _skip_rest_of_line(handle: IO[str], length: int) -> tuple[int, bool]:
    """Read to the end of an over-long line; (its length, whether it ended before the bound)."""
    while length <= MAX_SKIPPED_LINE_CHARS:
        chunk = handle.readline(_CHUNK_CHARS)
        if not chunk:
            return length, True
        length += len(chunk)
        if chunk.endswith("\n"):
            return length, True
    return length, False


def _parse_line(line: str, source: str, pset: PredictionSet) -> tuple[PredictionRecord | None, str | None]:
    if not line.strip():
        return None, None
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None, "not JSON"
    if not isinstance(obj, dict) or ("pred" not in obj and not _error_of(obj)):
        return None, "not a {pred, gt, input} object"
    item = obj.get("input") if isinstance(obj.get("input"), dict) else None
    index = _index_of(obj, item)
    if index is None:
        return None, "no item index (input.index)"
    error = _error_of(obj)
    if error:
        if index not in pset.records:
            pset.unanswered.setdefault(index, error)
        return None, None
    gt = obj.get("gt")
    if isinstance(gt, int) and not isinstance(gt, bool) and abs(gt) > MAX_ANSWER:
        return None, f"gt is not a count (more than {MAX_ANSWER:,})"
    gt = gt if isinstance(gt, int) and not isinstance(gt, bool) else None
    # A non-text "pred" is kept as it is: the scorers count it as a failure, as the scripts do.
    return PredictionRecord(index, obj["pred"], gt, item, source), None


def _error_of(obj: dict) -> str | None:
    """The model-side error of an `avr infer` line: a non-empty message means no answer."""
    error = obj.get("error")
    return error if isinstance(error, str) and error.strip() else None


def _index_of(obj: dict, item: dict | None) -> int | None:
    for value in (item or {}).get("index"), obj.get("index"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def guess_protocol(pset: PredictionSet) -> str:
    """Clue answers are JSON geometry; counts are short text. Non-text predictions say nothing."""
    sample = [r.pred for r in itertools.islice(pset.records.values(), 50) if isinstance(r.pred, str)]
    structured = sum(("[" in text or "{" in text) for text in sample)
    return "clue" if structured * 2 > len(sample) else "long"


def write_prediction_folder(folder: str | Path, records: Iterable[PredictionRecord | dict]) -> None:
    """Write records in the benchmark layout, one `<index>.txt` per item, atomically."""
    folder = Path(folder)
    for record in records:
        if isinstance(record, PredictionRecord):
            record = {"pred": record.pred, "gt": record.gt, "input": record.input}
        index = record["input"]["index"]
        write_text_atomic(folder / f"{index}.txt", json.dumps(record, ensure_ascii=False) + "\n")
