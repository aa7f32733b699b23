"""Tags and a note per item, saved beside the run they describe (a small JSON file).

Researchers mark items while they inspect a run ("audio-only", "GT wrong", "ask Li") and filter
the browser by tag later. Every change is written at once, atomically (engine.io), so a crash
loses nothing; a file that cannot be read is reported and never overwritten.

Where the file lives: a run folder holds `annotations.json`; a protocol folder given on its own
(`runA/clue_acc`) uses its run's folder (`runA/annotations.json`); a JSONL run `x.jsonl` uses
`x.annotations.json` beside it. No Qt here.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from psygnal import Signal

from engine.errors import UserError
from engine.io import write_json_atomic

FILE_NAME = "annotations.json"
FORMAT_VERSION = 1
PROTOCOL_FOLDER_NAMES = ("long_acc", "ref_acc", "clue_acc")
MAX_TAG_CHARS = 40


class AnnotationsError(UserError):
    """The annotations file beside a run cannot be read or written (one-line message)."""


@dataclass(frozen=True)
class ItemNote:
    tags: tuple[str, ...] = ()
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.tags and not self.note.strip()


def annotations_path(run_path: str | Path) -> Path:
    """The JSON file that holds the tags and notes of the run at `run_path`."""
    run_path = Path(run_path)
    if run_path.is_file() or run_path.suffix == ".jsonl":
        return run_path.with_name(f"{run_path.stem}.{FILE_NAME}")
    if run_path.name in PROTOCOL_FOLDER_NAMES:
        return run_path.parent / FILE_NAME
    return run_path / FILE_NAME


def normalise_tag(tag: str) -> str:
    """Trimmed, inner whitespace collapsed; empty or over-long tags are a user error."""
    clean = re.sub(r"\s+", " ", tag).strip()
    if not clean:
        raise AnnotationsError("a tag cannot be empty")
    if len(clean) > MAX_TAG_CHARS:
        raise AnnotationsError(f"a tag has at most {MAX_TAG_CHARS} characters ({clean[:20]}... is longer)")
    return clean


class Annotations:
    """The tags and notes of one run. `changed(index)` fires after each saved change."""

    changed = Signal(int)

    def __init__(self, path: Path, notes: dict[int, ItemNote] | None = None) -> None:
        self.path = path
        self._notes: dict[int, ItemNote] = dict(notes or {})

    @classmethod
    def for_run(cls, run_path: str | Path) -> Annotations:
        """Load the run's annotations (none yet: empty). A corrupt file raises AnnotationsError."""
        path = annotations_path(run_path)
        return cls(path, read_annotations(path))

    # ---- reading ---------------------------------------------------------------------------
    def get(self, index: int) -> ItemNote:
        return self._notes.get(index, ItemNote())

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of items carrying it, most used first, then by name."""
        counts = Counter(tag for note in self._notes.values() for tag in note.tags)
        return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0].lower()))

    def indices_with_tag(self, tag: str) -> set[int]:
        return {index for index, note in self._notes.items() if tag in note.tags}

    def __len__(self) -> int:
        return len(self._notes)

    # ---- editing (each change is saved before `changed` fires) ---------------------------
    def add_tag(self, index: int, tag: str) -> None:
        tag = normalise_tag(tag)
        current = self.get(index)
        if tag not in current.tags:
            self._put(index, replace(current, tags=(*current.tags, tag)))

    def remove_tag(self, index: int, tag: str) -> None:
        current = self.get(index)
        if tag in current.tags:
            self._put(index, replace(current, tags=tuple(t for t in current.tags if t != tag)))

    def set_note(self, index: int, text: str) -> None:
        current = self.get(index)
        if text != current.note:
            self._put(index, replace(current, note=text))

    def _put(self, index: int, note: ItemNote) -> None:
        previous = self._notes.get(index)
        if note.empty:
            self._notes.pop(index, None)
        else:
            self._notes[index] = note
        try:
            self.save()
        except AnnotationsError:
            self._restore(index, previous)  # memory and disk stay the same story
            raise
        self.changed.emit(index)

    def _restore(self, index: int, previous: ItemNote | None) -> None:
        if previous is None:
            self._notes.pop(index, None)
        else:
            self._notes[index] = previous

    def save(self) -> None:
        try:
            write_json_atomic(self.path, to_json(self._notes))
        except OSError as exc:
            raise AnnotationsError(f"cannot save tags and notes to {self.path}: {exc.strerror or exc}") from exc


def to_json(notes: dict[int, ItemNote]) -> dict:
    items = {str(index): {"tags": list(note.tags), "note": note.note} for index, note in sorted(notes.items())}
    return {"version": FORMAT_VERSION, "items": items}


def read_annotations(path: Path) -> dict[int, ItemNote]:
    """The notes saved at `path`; {} when there is no file yet."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {int(key): _note_of(value) for key, value in data["items"].items()}
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationsError(f"cannot read {path}: {exc}") from exc
    except (ValueError, KeyError, TypeError, AttributeError, AnnotationsError) as exc:
        raise AnnotationsError(f"{path} is not a tags-and-notes file ({exc}); fix or move it") from exc


def _note_of(value: dict) -> ItemNote:
    tags = value.get("tags", [])
    note = value.get("note", "")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or not isinstance(note, str):
        raise ValueError("tags must be a list of strings and note a string")
    return ItemNote(tuple(dict.fromkeys(normalise_tag(t) for t in tags)), note)
