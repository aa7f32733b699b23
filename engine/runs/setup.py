"""From a RunSpec to the pieces of a run: the prompt set and the request builder."""

from __future__ import annotations

from engine.backends.inputs import AudioPolicy, InputOptions, RequestBuilder
from engine.backends.prompts import load_prompt_set
from engine.runs.spec import RunSpec


def request_builder(spec: RunSpec) -> RequestBuilder:
    options = InputOptions(frames=spec.frames, frames_as=spec.frames_as,  # type: ignore[arg-type]
                           audio=AudioPolicy(enabled=spec.audio), max_new_tokens=spec.max_new_tokens)
    return RequestBuilder(load_prompt_set(spec.prompts), spec.videos, spec.protocol, spec.reasoning, options)
