"""What a background job is (the command, its output file, its limits) and how it ended: plain
values with no Qt, so view-models can build jobs and the runner (`jobs.Job`) can run them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from avr_studio.workers.progress import JobProgress


def default_job_threads() -> int:
    """All cores but one: the window keeps a core while a model runs."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class JobSpec:
    """What to run and how to watch it. `output` is the JSONL file the job appends to (tailed for
    records and progress); `total` the number of items planned; `count_key` the record field whose
    distinct values count as finished items (None: every record counts)."""

    name: str
    argv: tuple[str, ...]
    output: Path | None = None
    total: int | None = None
    count_key: str | None = "index"
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    niceness: int = 10
    threads: int | None = None
    stop_timeout_s: float = 5.0
    poll_ms: int = 200


@dataclass(frozen=True)
class JobOutcome:
    state: Literal["done", "cancelled", "failed"]
    message: str
    exit_code: int | None
    signal: int | None
    progress: JobProgress
    log_tail: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.state == "done"


def python_module_argv(module: str, *args: str) -> tuple[str, ...]:
    """`python -m module args` with this interpreter (the studio's own environment)."""
    return (sys.executable, "-m", module, *args)


