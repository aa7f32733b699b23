"""A batch run of `avr infer` as a background job: the command line, the items it covers, and
where its rows land.

The studio never runs a model in its own process: it launches `avr infer` through the job runner
and follows the results JSONL (one row per item: `{"index", "pred", "gt", "input", "backend",
"model", ...}`), counting distinct indices against the planned items. A filtered batch writes its
items to `<out>.items.json` beside the results and runs `avr infer` on that file, so `avr infer`
needs no flag of its own for subsets. Rerunning the same request resumes: `avr infer` skips the
items already answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avr_studio.workers.spec import JobSpec, python_module_argv
from engine.benchmark import Item, load_dataset, save_dataset


@dataclass(frozen=True)
class InferRequest:
    """What to run: mirrors `avr infer`'s flags (see docs/inference.md)."""

    backend: str
    dataset: Path
    videos: Path
    protocol: str
    out: Path
    reasoning: str = "direct"
    model: str | None = None
    source: Path | None = None  # replay: the predictions to answer from
    limit: int | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    def argv(self, dataset: Path | None = None) -> tuple[str, ...]:
        args = ["infer", "--backend", self.backend, "--dataset", str(dataset or self.dataset),
                "--videos", str(self.videos), "--protocol", self.protocol, "--out", str(self.out),
                "--reasoning", self.reasoning]
        if self.model:
            args += ["--model", str(self.model)]
        if self.source:
            args += ["--source", str(self.source)]
        if self.limit is not None:
            args += ["--limit", str(self.limit)]
        return python_module_argv("engine.cli", *args, *self.extra_args)


def subset_path(out: Path) -> Path:
    """Where a filtered batch keeps its items: beside the results file."""
    return out.with_name(out.name + ".items.json")


def infer_job_spec(request: InferRequest, items: Sequence[Item] | None = None, *, name: str | None = None,
                   threads: int | None = None) -> JobSpec:
    """The job for `request`; `items` (the browser's filtered items) limits the run to them."""
    dataset = None
    if items is None:
        items = load_dataset(request.dataset)
    else:
        dataset = subset_path(request.out)
        save_dataset(items, dataset)
    total = len(items) if request.limit is None else min(request.limit, len(items))
    label = name or f"avr infer ({request.backend}, {request.protocol})"
    return JobSpec(name=label, argv=request.argv(dataset), output=request.out, total=total, count_key="index",
                   env=dict(request.env), threads=threads)

