"""What the Run panel will run: backend, model/URL/source, reasoning style, protocol, and the
`avr infer` requests and run names that follow from them. Plain values, no Qt.

"both" reasoning styles means two runs of the same setup (thinking, then direct) that the studio
opens side by side when both are done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from avr_studio.workers.infer_job import InferRequest
from engine.errors import UserError

REASONING_CHOICES = ("direct", "thinking", "both")
PROTOCOL_CHOICES = ("clue", "long", "ref")
#: Backends whose choice needs one more value, and what the panel asks for.
NEEDS = {"transformers": "model", "openai": "url", "replay": "source"}
NEED_LABELS = {"model": "checkpoint folder", "url": "server URL", "source": "predictions to replay"}


class RunSetupError(UserError):
    """A Run panel setting that cannot work (one line for the status bar)."""


@dataclass(frozen=True)
class RunSetup:
    backend: str = "baseline"
    reasoning: str = "direct"
    protocol: str = "clue"
    model: str = ""
    url: str = ""
    source: str = ""
    frames: int = 50
    max_new_tokens: int = 1024

    def validate(self) -> None:
        if self.reasoning not in REASONING_CHOICES:
            raise RunSetupError(f"reasoning must be one of {', '.join(REASONING_CHOICES)}")
        if self.protocol not in PROTOCOL_CHOICES:
            raise RunSetupError(f"protocol must be one of {', '.join(PROTOCOL_CHOICES)}")
        need = NEEDS.get(self.backend)
        if need and not getattr(self, need).strip():
            raise RunSetupError(f"the {self.backend} backend needs a {NEED_LABELS[need]}")
        if self.backend == "transformers" and not Path(self.model).is_dir():
            raise RunSetupError(f"checkpoint folder {self.model} does not exist")
        if self.frames < 1 or self.max_new_tokens < 1:
            raise RunSetupError("frames and max new tokens must be at least 1")
        if self.backend == "replay" and not Path(self.source).exists():
            raise RunSetupError(f"predictions to replay {self.source} do not exist")

    def styles(self) -> tuple[str, ...]:
        return ("thinking", "direct") if self.reasoning == "both" else (self.reasoning,)

    def run_name(self, style: str) -> str:
        """`baseline-direct-clue`, `transformers-ckpt500-thinking-long`: one name per setup and style."""
        served = f"{self.model}@" if self.model else ""
        what = {"model": Path(self.model).name, "url": served + _slug(self.url.split("://")[-1]),
                "source": Path(self.source).stem}
        need = NEEDS.get(self.backend)
        parts = [self.backend, what[need] if need else "", style, self.protocol]
        return "-".join(_slug(p) for p in parts if p)

    def request(self, style: str, dataset: Path, videos: Path, out: Path) -> InferRequest:
        extra: tuple[str, ...] = ("--frames", str(self.frames), "--max-new-tokens", str(self.max_new_tokens))
        if self.backend == "openai" and self.url:
            extra = ("--url", self.url)
        extra = (*extra, "--events")  # streamed text as JSON lines on stdout
        return InferRequest(backend=self.backend, dataset=dataset, videos=videos, protocol=self.protocol, out=out,
                            reasoning=style, model=self.model or None, source=Path(self.source) if self.source else None,
                            extra_args=extra)


def batch_out(runs_root: Path, setup: RunSetup, style: str) -> Path:
    """A batch's results file: rerunning the same setup resumes it."""
    return runs_root / f"{setup.run_name(style)}.jsonl"


def single_out(runs_root: Path, setup: RunSetup, style: str, index: int) -> Path:
    """A single item's results file: a run of its own, replaced when the item is run again."""
    return runs_root / f"{setup.run_name(style)}-item{index}.jsonl"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:40]
