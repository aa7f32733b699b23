"""What a batch run is: the values `avr infer` (or the studio) fixes before it starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import UserError

#: A model that has not answered one item after this long is stopped on that item (the run goes on).
DEFAULT_ITEM_TIMEOUT = 1800.0


@dataclass(frozen=True)
class RunSpec:
    backend: str
    dataset: Path
    videos: Path
    protocol: str
    out: Path
    reasoning: str = "direct"
    model: str | None = None
    prompts: str = "official"
    frames: int = 50
    frames_as: str = "video"
    max_pixels: int | None = None
    audio: bool = True
    max_new_tokens: int = 1024
    limit: int | None = None
    export_folder: Path | None = None
    source: Path | None = None
    item_timeout: float | None = DEFAULT_ITEM_TIMEOUT
    trust_remote_code: bool = False
    urls: tuple[str, ...] = ()
    api_key_env: str | None = None
    concurrency: int = 1
    request_timeout: float | None = None
    retries: int | None = None
    audio_part: str | None = None
    python: str | None = None

    def validate(self) -> None:
        """One-line UserErrors for values argparse cannot check."""
        if self.protocol not in ("long", "ref", "clue"):
            raise UserError(f"--protocol must be long, ref or clue, got {self.protocol!r}")
        if self.reasoning not in ("direct", "thinking"):
            raise UserError(f"--reasoning must be direct or thinking, got {self.reasoning!r}")
        if self.frames < 1:
            raise UserError(f"--frames must be at least 1, got {self.frames}")
        if self.max_new_tokens < 1:
            raise UserError(f"--max-new-tokens must be at least 1, got {self.max_new_tokens}")
        if self.limit is not None and self.limit < 0:
            raise UserError(f"--limit must not be negative, got {self.limit}")
        if not Path(self.videos).is_dir():
            raise UserError(f"--videos {self.videos}: no such folder")
        if self.concurrency < 1:
            raise UserError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.out.is_dir():
            raise UserError(f"--out {self.out} is a folder; give a .jsonl file")

    def to_json(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    def backend_options(self) -> dict:
        """The standard keywords every backend factory receives (engine.backends.base.create_backend)."""
        return {"model": self.model, "max_pixels": self.max_pixels, "max_new_tokens": self.max_new_tokens,
                "trust_remote_code": self.trust_remote_code, "source": str(self.source) if self.source else None,
                "url": list(self.urls) or None, "timeout": self.item_timeout,
                # servers (engine.backends.openai_http) and the Ola worker (engine.backends.ola_backend)
                "api_key_env": self.api_key_env, "concurrency": self.concurrency,
                "request_timeout": self.request_timeout, "retries": self.retries, "audio_part": self.audio_part,
                "python": self.python}
