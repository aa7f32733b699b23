"""Incremental reading of growing text files and pipes: only new bytes, whole lines only.

A job appends JSON lines while the studio reads them; the last line may be half-written when we
look. `LineBuffer` keeps such a torn tail until its newline arrives, so a reader never sees half a
record. No Qt here: the Run panel and the Engine tab both tail files through this module.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The most bytes one poll reads: a huge backlog is taken in slices so the GUI thread never stalls.
MAX_READ_BYTES = 128 * 1024


class LineBuffer:
    """Feed it bytes as they come; it returns the complete lines (decoded, without the newline)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[str]:
        if not data:
            return []
        chunk = self._pending + data
        *complete, self._pending = chunk.split(b"\n")
        return [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in complete]

    def flush(self) -> list[str]:
        """The torn last line, once the writer is known to be gone (it will never be completed)."""
        rest, self._pending = self._pending, b""
        return [rest.decode("utf-8", errors="replace")] if rest.strip() else []

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)


class FileTail:
    """Reads the whole lines appended to `path` since the last `read_lines()`; a missing file reads
    as empty.

    `offset` is the end of the last whole line taken. A torn last line is left in the file and read
    again next time, so a writer that cuts it off and rewrites it (a resumed run repairing its
    file) is followed exactly. A file replaced (a new inode) or truncated below `offset` is read
    again from its start and `resets` counts it, so the caller can drop what it derived.
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_READ_BYTES) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.offset = 0
        self.resets = 0
        self.torn_bytes = 0  # bytes after the last newline at the last read
        self._inode: int | None = None

    def read_lines(self) -> list[str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if self._inode is None:
            self._inode = stat.st_ino
        elif stat.st_ino != self._inode or stat.st_size < self.offset:
            self.resets += 1
            self._inode, self.offset = stat.st_ino, 0
        if stat.st_size <= self.offset:
            self.torn_bytes = 0
            return []
        data = self._read_from_offset()
        cut = data.rfind(b"\n") + 1
        self.offset += cut
        self.torn_bytes = len(data) - cut
        return [line.rstrip(b"\r").decode("utf-8", errors="replace") for line in data[:cut].split(b"\n")[:-1]]

    def _read_from_offset(self) -> bytes:
        """Up to max_bytes, or further to the end of a single line longer than that."""
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(self.max_bytes)
            while len(data) >= self.max_bytes and b"\n" not in data:
                more = handle.read(self.max_bytes)
                if not more:
                    break
                data += more
        return data

    @property
    def has_backlog(self) -> bool:
        """More whole-line bytes may be waiting than the last read took (call again soon)."""
        try:
            return self.path.stat().st_size > self.offset + self.torn_bytes
        except FileNotFoundError:
            return False


@dataclass(frozen=True)
class JsonLines:
    """Records parsed from a batch of lines, and the lines that were not JSON objects."""

    records: tuple[dict[str, Any], ...]
    bad_lines: tuple[str, ...]


def parse_json_lines(lines: list[str]) -> JsonLines:
    """Blank lines are skipped; a corrupt line is reported, never fatal."""
    records: list[dict[str, Any]] = []
    bad: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line)
            continue
        if isinstance(value, dict):
            records.append(value)
        else:
            bad.append(line)
    return JsonLines(tuple(records), tuple(bad))
