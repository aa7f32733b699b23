"""One progress display for long CLI work (`avr synth`, `avr infer`): a rich bar with ETA on a
terminal, and a line per whole 10% (or new stage) when stderr is a log file, so logs stay short."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """`with ProgressBar("infer", total=n) as bar: bar.update(done, message=...)`."""

    def __init__(self, description: str, total: float = 1.0, stream: TextIO | None = None) -> None:
        self.description = description
        self.total = total
        self.stream = stream or sys.stderr
        self._rich = None
        self._task = None
        self._last_key: tuple | None = None

    def __enter__(self) -> ProgressBar:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = [TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn()]
            if self.total > 1:
                columns.append(MofNCompleteColumn())
            columns += [TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[message]}")]
            self._rich = Progress(*columns, console=Console(file=self.stream), transient=False)
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total, message="")
        return self

    def update(self, completed: float, message: str = "", total: float | None = None) -> None:
        if total is not None:
            self.total = total
        if self._rich is not None:
            self._rich.update(self._task, completed=completed, total=self.total, message=message[:60])
            return
        fraction = completed / self.total if self.total else 1.0
        key = (message.split(" (")[0] if self.total <= 1 else "", int(10 * fraction))
        if key != self._last_key:
            self._last_key = key
            count = f" {completed:g}/{self.total:g}" if self.total > 1 else ""
            print(f"{self.description}: {100 * fraction:5.1f}%{count} {message}".rstrip(), file=self.stream, flush=True)

    def fraction_callback(self):
        """A `(message, fraction)` callback for engines that report fractions (synth)."""
        return lambda message, fraction: self.update(fraction * self.total, message)

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()
