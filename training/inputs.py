"""A training sample as the model sees it: the same request layout, decoding and processor call as the
`transformers` backend (engine.backends.inputs / prompts / qwen_inputs), so training and evaluation
see one format: one video (frame times stated in the text) or captioned frames, then the audio of
the clip, then the question with the think/answer instruction.

Per-sample processor outputs are cached (`MediaCache`): a prompt is decoded and processed once and
shared by all its generations, by the reference forward and by the policy forwards.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backends.base import ModelRequest
from engine.backends.inputs import AudioPolicy, audio_spans, official_frame_indices, video_facts
from engine.backends.prompts import PromptSet, format_seconds, load_prompt_set
from training.data import TrainSample

THINKING_INSTRUCTION = ("First think step by step inside <think> </think>, "
                        "then give the answer inside <answer> </answer>.")
# Processor outputs that carry media (everything but the token ids and their mask).
MEDIA_KEYS = ("pixel_values_videos", "video_grid_thw", "video_second_per_grid", "pixel_values",
              "image_grid_thw", "input_features", "feature_attention_mask")
_PADDED_KEYS = ("input_features", "feature_attention_mask")  # last dim padded to the batch's longest clip


@dataclass(frozen=True)
class InputOptions:
    num_frames: int = 16
    audio: bool = True
    max_audio_seconds: float = 600.0
    max_pixels: int | None = None
    prompt_set: str = "default"


def build_request(sample: TrainSample, options: InputOptions, prompts: PromptSet | None = None) -> ModelRequest:
    """The request of one sample, worded by the prompt set's layout templates (as at evaluation)."""
    prompts = prompts or load_prompt_set(options.prompt_set)
    facts = video_facts(str(Path(sample.video)))
    width, height = facts.size
    start = max(0.0, sample.start)
    end = min(facts.duration, sample.end) if sample.end is not None else facts.duration
    fields = {"question": sample.question, "category": sample.task, "count": 0, "width": width, "height": height,
              "duration": format_seconds(end - start)}
    segments: list[tuple[str, Any]] = []
    if sample.frame_times is not None:
        indices = [facts.index_at(t) for t in sample.frame_times]
        times = [facts.frame_times[i] for i in indices]
        fields["count"] = len(indices)
        segments.append(("text", prompts.template("clue_frames_intro.txt").substitute(fields) + "\n"))
        for n, t in enumerate(times):
            caption = prompts.template("clue_frame_caption.txt").substitute(fields, n=n + 1, time=format_seconds(t))
            segments += [("text", caption + "\n"), ("frame", n)]
    else:
        first, last = facts.first_index_from(start), max(facts.first_index_from(start), facts.index_at(end))
        indices = [first + i for i in official_frame_indices(last - first + 1, sample.num_frames or options.num_frames)]
        times = [facts.frame_times[i] for i in indices]
        fields["count"] = len(indices)
        segments.append(("text", prompts.template("video_intro.txt").substitute(fields) + "\n"))
        segments.append(("video", tuple(range(len(indices)))))
        captions = [prompts.template("frame_caption.txt").substitute(fields, n=n + 1, time=format_seconds(t))
                    for n, t in enumerate(times)]
        segments.append(("text", "\n".join(captions) + "\n"))
    policy = AudioPolicy(enabled=options.audio and sample.audio, cap_seconds=options.max_audio_seconds)
    spans, _ = audio_spans((start, end), times, facts.has_audio, policy)
    for k, span in enumerate(spans):
        caption = prompts.template("audio_caption.txt").substitute(
            fields, start=format_seconds(span.start), end=format_seconds(span.end))
        segments += [("text", caption + "\n"), ("audio", k)]
    segments.append(("text", f"Question: {sample.question}\n{THINKING_INSTRUCTION}"))
    return ModelRequest(
        index=0, video_path=str(facts.path), protocol="ref", reasoning="thinking", category=sample.task,
        system_prompt=prompts.template("system.txt").substitute(fields).strip(), segments=tuple(segments),
        frame_indices=tuple(indices), frame_times=tuple(round(float(t), 2) for t in times), audio_spans=spans,
        prompt_set=prompts.name, prompt_hash=prompts.hash,
        frames_as="images" if sample.frame_times is not None else "video",
        extra={"frame_size": [width, height], "duration": round(end - start, 3), "sample_id": sample.id},
    )


def sample_model_inputs(processor, sample: TrainSample, options: InputOptions,
                        prompts: PromptSet | None = None) -> dict:
    """Decode the sample's frames and audio and run the processor: a batch of one (tensors)."""
    from engine.backends.qwen_inputs import build_model_inputs
    from engine.media.sampling import sample_audio, sample_frames

    request = build_request(sample, options, prompts)
    frames = sample_frames(request.video_path, request.frame_indices).frames
    audio = [sample_audio(request.video_path, span.start, span.end) for span in request.audio_spans]
    return dict(build_model_inputs(processor, request, frames, audio, max_pixels=options.max_pixels))


class MediaCache:
    """Processor outputs per sample id, least recently used dropped beyond `capacity` samples."""

    def __init__(self, processor, options: InputOptions, capacity: int = 64) -> None:
        self.processor = processor
        self.options = options
        self.capacity = capacity
        self.prompts = load_prompt_set(options.prompt_set)
        self._entries: OrderedDict[str, dict] = OrderedDict()
        self.processed = 0  # how many times the processor actually ran (tests check "once per prompt")

    def get(self, sample: TrainSample) -> dict:
        entry = self._entries.get(sample.id)
        if entry is None:
            entry = sample_model_inputs(self.processor, sample, self.options, self.prompts)
            self.processed += 1
            self._entries[sample.id] = entry
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(sample.id)
        return entry


def media_of(inputs: dict) -> dict:
    return {k: v for k, v in inputs.items() if k in MEDIA_KEYS and v is not None}


def collate_media(rows: list[dict]):
    """Concatenate per-row media tensors as the thinker expects a batch (clips padded to the longest).

    Every media tensor is indexed by video / image / clip, not by row, so rows without a kind of
    media simply add nothing to it."""
    import torch

    out: dict[str, Any] = {}
    for key in MEDIA_KEYS:
        parts = [row[key] for row in rows if key in row]
        if not parts:
            continue
        if key in _PADDED_KEYS:
            longest = max(p.shape[-1] for p in parts)
            parts = [torch.nn.functional.pad(p, (0, longest - p.shape[-1])) for p in parts]
        out[key] = torch.cat(parts, dim=0)
    return out
