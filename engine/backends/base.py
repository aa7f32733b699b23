"""The one small backend interface: generate text for a prepared request, streamed, cancellable.

Data flow: Item -> `ModelRequest` (prompt text, frame times, audio spans; built by
engine.backends.inputs) -> Backend.generate -> text chunks -> the runner joins them into the
row's `pred`. Backends never score; the runner and `avr eval` do. Every failure a backend can
meet is a `BackendError` (a UserError), recorded on the item's row by the runner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.errors import UserError

Protocol_ = Literal["long", "ref", "clue"]
Reasoning = Literal["thinking", "direct"]


class BackendError(UserError):
    """A backend could not answer one item (the run goes on; the row records the message)."""


class BackendUnavailable(BackendError):
    """The backend cannot start at all (missing package, bad model folder, bad URL)."""


class WorkerCrashed(BackendError):
    """The model's worker process died (out of memory, killed, segfault)."""


class GenerationTimeout(BackendError):
    """No answer within the per-item time limit."""


class Cancelled(BackendError):
    """The caller cancelled the generation."""


@dataclass(frozen=True)
class AudioSpan:
    """A span of the source video's audio (seconds, in the video's own clock)."""

    start: float
    end: float


@dataclass(frozen=True)
class ModelRequest:
    """Everything a backend needs for one item, media referenced by path and time, never inline.

    `segments` is the user turn as an ordered list of parts:
    ("text", str); ("frame", i) one image, i indexing `frame_indices`/`frame_times`
    (`frames_as == "images"`); ("video", (i, ...)) all those frames as one video
    (`frames_as == "video"`, the frame times are then listed in a text part); ("audio", k) the
    audio of `audio_spans[k]`, 16 kHz mono. Frames are decoded by the backend side from
    `video_path` at `frame_indices` (exact) and audio with engine.media.sampling, so requests
    stay small and JSON-serialisable (`to_json` / `from_json`). `frame_times` are the times
    the prompt states (clip-relative for the ref protocol); `frame_indices` index the file.
    `extra` (from engine.backends.prompts): `question`, `span` ([start, end] s of the video the
    request covers), `duration`, `frame_size` ([w, h]), `audio_note` (for previews),
    `question_template`.
    """

    index: int
    video_path: str
    protocol: Protocol_
    reasoning: Reasoning
    category: str
    system_prompt: str
    segments: tuple[tuple[str, Any], ...]
    frame_indices: tuple[int, ...]
    frame_times: tuple[float, ...]
    audio_spans: tuple[AudioSpan, ...] = ()
    prompt_set: str = "official"
    prompt_hash: str = ""
    max_new_tokens: int = 1024
    frames_as: Literal["video", "images"] = "video"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> str:
        """The user turn's text alone (frames left out), for previews and text-only backends."""
        return "".join(part for kind, part in self.segments if kind == "text")

    def to_json(self) -> dict:
        """A plain dict (lists for tuples) for JSON lines: the worker protocol and `--dry-run`."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["segments"] = [[kind, list(part) if isinstance(part, tuple) else part] for kind, part in self.segments]
        data["frame_indices"] = list(self.frame_indices)
        data["frame_times"] = list(self.frame_times)
        data["audio_spans"] = [[span.start, span.end] for span in self.audio_spans]
        return data

    @classmethod
    def from_json(cls, data: dict) -> ModelRequest:
        """Inverse of `to_json`."""
        values = dict(data)
        values["segments"] = tuple((kind, tuple(part) if isinstance(part, list) else part)
                                   for kind, part in data["segments"])
        values["frame_indices"] = tuple(int(i) for i in data["frame_indices"])
        values["frame_times"] = tuple(float(t) for t in data["frame_times"])
        values["audio_spans"] = tuple(AudioSpan(float(a), float(b)) for a, b in data.get("audio_spans", ()))
        return cls(**values)


class Backend(Protocol):
    """A model (or model-free answerer). `model_id` is written on every row it answers."""

    name: str
    model_id: str

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield text chunks as they arrive; raise a BackendError subclass on failure."""
        ...

    def close(self) -> None:
        """Free the model / worker / connections. Safe to call twice."""
        ...


BackendFactory = Callable[..., Backend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make `factory(**options)` available as `avr infer --backend NAME`."""
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    _load_builtin_backends()
    return sorted(_REGISTRY)


def create_backend(name: str, **options: Any) -> Backend:
    """Build a backend by name; unknown names are a user error listing the known ones.

    `avr infer` passes every backend the same keywords: `model` (path or name, or None),
    `max_pixels`, `max_new_tokens`, `trust_remote_code`, `source` (replay), `url`, `timeout`
    (seconds per item); values the user did not give are None. A factory takes the ones it
    uses and ignores the rest (`**_`).
    """
    _load_builtin_backends()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise BackendUnavailable(f"unknown backend {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return factory(**options)


# Modules that call register_backend at import; each keeps heavy imports inside functions.
_BUILTIN_MODULES: tuple[str, ...] = (
    "engine.backends.replay",
    "engine.backends.baseline",
    "engine.backends.transformers_backend",
    "engine.backends.openai_http",
    "engine.backends.ola_backend",
)


def _load_builtin_backends() -> None:
    import importlib

    for module_name in _BUILTIN_MODULES:
        importlib.import_module(module_name)
