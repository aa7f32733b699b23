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

    `segments` is the user turn as an ordered list of ("text", str) and ("frame", i) parts,
    i indexing `frame_times`; backends that send one video put all frames where the first
    frame part sits. Frames are decoded by the backend side from `video_path` at
    `frame_indices` (exact) so requests stay small and JSON-serialisable.
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
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def text(self) -> str:
        """The user turn's text alone (frames left out), for previews and text-only backends."""
        return "".join(part for kind, part in self.segments if kind == "text")


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
    """Build a backend by name; unknown names are a user error listing the known ones."""
    _load_builtin_backends()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise BackendUnavailable(f"unknown backend {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return factory(**options)


# Modules that call register_backend at import; each keeps heavy imports inside functions.
_BUILTIN_MODULES: tuple[str, ...] = ("engine.backends.openai_http",)


def _load_builtin_backends() -> None:
    import importlib

    for module_name in _BUILTIN_MODULES:
        importlib.import_module(module_name)
