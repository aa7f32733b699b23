"""ModelRequest + decoded frames + audio -> Qwen-Omni processor inputs: the ONE place this happens.

The `transformers` worker, `avr infer --dry-run` (token counts) and the trainer all call
`build_model_inputs`, so evaluation and training see the same format. The request's segments
decide the layout: ("video", (i, ...)) sends those frames as one video (the frame times are in
a text part next to it, because Qwen2.5-Omni merges frame pairs and per-frame captions cannot
sit between them); ("frame", i) sends one captioned image; ("audio", k) sends the 16 kHz audio
of `audio_spans[k]`. The text is rendered with the processor's chat template first, then the
processor expands the placeholders (Qwen2_5OmniProcessor does not render and expand at once).

Known on transformers 5.24: the processor's own `videos_kwargs` size defaults override the
saved video processor's size, so the pixel budget is always passed explicitly; audio is cut
at 30 s unless `truncation` is off; `fps` must be a scalar. Plain functions, heavy imports
inside them (this module is imported by `avr infer --dry-run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from engine.backends.base import ModelRequest

PATCH_FACTOR = 28  # patch 14 x merge 2: frame sides are multiples of this
#: Per-frame pixel budget: 144 merged patches per frame pair (448x252 for 16:9), so 50 frames
#: cost about 3.6k visual tokens and fit a 32k context with the audio windows of engine.backends.inputs.
DEFAULT_MAX_PIXELS = 144 * PATCH_FACTOR * PATCH_FACTOR
#: Floor well below the processor's (128 patches): small frames are not blown up.
DEFAULT_MIN_PIXELS = 4 * PATCH_FACTOR * PATCH_FACTOR
AUDIO_RATE = 16000


def chat_messages(request: ModelRequest) -> list[dict]:
    """The conversation for the chat template: content parts typed text/video/image/audio only."""
    content: list[dict[str, Any]] = []
    for kind, part in request.segments:
        if kind == "text":
            if part:
                content.append({"type": "text", "text": part})
        elif kind == "video":
            content.append({"type": "video"})
        elif kind == "frame":
            content.append({"type": "image"})
        elif kind == "audio":
            content.append({"type": "audio"})
        else:
            raise ValueError(f"unknown request segment kind {kind!r}")
    messages = [{"role": "user", "content": content}]
    if request.system_prompt:
        messages.insert(0, {"role": "system", "content": [{"type": "text", "text": request.system_prompt}]})
    return messages


def render_prompt(processor, request: ModelRequest) -> str:
    """The chat-template text with one placeholder per video, image and audio part."""
    return processor.apply_chat_template(chat_messages(request), add_generation_prompt=True, tokenize=False)


def video_fps(request: ModelRequest, frame_positions: Sequence[int]) -> float:
    """Frames per second of the sampled video: sets the temporal spacing of M-RoPE positions.

    The frames are spread over the span (segment midpoints), so their mean rate is count /
    span length; a single frame, or frames at one instant, get 1 fps.
    """
    times = [request.frame_times[i] for i in frame_positions]
    span = float(request.extra.get("duration") or 0.0)
    if span <= 0 and len(times) > 1:
        span = max(times) - min(times)
    return len(times) / span if span > 0 and len(times) > 1 else 1.0


def build_model_inputs(processor, request: ModelRequest, frames: np.ndarray | Sequence[np.ndarray],
                       audio: Sequence[np.ndarray], *, max_pixels: int | None = None,
                       min_pixels: int | None = None, return_tensors: str | None = "pt",
                       completion: str | None = None) -> dict:
    """Processor inputs (input_ids, pixel_values_videos / pixel_values, input_features, ...).

    `frames`: RGB uint8 frames (H, W, 3) in `request.frame_indices` order; `audio`: mono
    float32 16 kHz arrays, one per `request.audio_spans`. Returns the processor's BatchFeature
    (a dict) for a batch of one. `completion` (training): the assistant's answer, appended
    after the generation prompt and closed with the tokenizer's end-of-turn token; the prompt
    is then the first `len(input_ids)` tokens of the same call without it.
    """
    text = render_prompt(processor, request)
    if completion is not None:
        text += completion + (processor.tokenizer.eos_token or "")
    videos, images, clips = _media_in_segment_order(request, frames, audio)
    size = {"shortest_edge": int(min_pixels or DEFAULT_MIN_PIXELS), "longest_edge": int(max_pixels or DEFAULT_MAX_PIXELS)}
    kwargs: dict[str, Any] = {"text": [text], "return_tensors": return_tensors}
    if videos:
        kwargs["videos"] = videos
        kwargs["fps"] = video_fps(request, _video_positions(request)[0])
        kwargs["videos_kwargs"] = {"size": size, "cap_pixels_per_frame": False}
    if images:
        kwargs["images"] = images
        kwargs["images_kwargs"] = {"size": size}
    if clips:
        kwargs["audio"] = clips
        kwargs["audio_kwargs"] = {"truncation": False, "max_length": max(len(c) for c in clips)}
    return processor(**kwargs)


def _video_positions(request: ModelRequest) -> list[tuple[int, ...]]:
    return [tuple(part) for kind, part in request.segments if kind == "video"]


def _media_in_segment_order(request: ModelRequest, frames, audio) -> tuple[list, list, list]:
    frames = list(frames)
    if len(frames) != len(request.frame_indices):
        raise ValueError(f"{len(frames)} frames given for {len(request.frame_indices)} frame indices")
    if len(audio) != len(request.audio_spans):
        raise ValueError(f"{len(audio)} audio clips given for {len(request.audio_spans)} audio spans")
    videos, images, clips = [], [], []
    for kind, part in request.segments:
        if kind == "video":
            videos.append(np.stack([frames[i] for i in part]))
        elif kind == "frame":
            images.append(np.asarray(frames[part]))
        elif kind == "audio":
            clips.append(np.asarray(audio[part], dtype=np.float32))
    if len(videos) > 1:
        raise ValueError("a request holds at most one video part (one fps for the processor)")
    return videos, images, clips


@lru_cache(maxsize=2)
def load_processor(model_dir: str, trust_remote_code: bool = False):
    """The model folder's processor, offline; a PEFT adapter folder falls back to its base's."""
    from transformers import AutoProcessor

    from engine.backends.model_folder import processor_folder

    return AutoProcessor.from_pretrained(processor_folder(model_dir), local_files_only=True,
                                         trust_remote_code=trust_remote_code)


def count_prompt_tokens(model_dir: str, request: ModelRequest, max_pixels: int | None = None) -> int:
    """Tokens the model's processor makes of this request (for `avr infer --dry-run`).

    Token counts depend only on frame sizes and audio lengths, so blank frames of the
    request's frame size and silent clips of its spans stand in for decoding the video.
    """
    processor = load_processor(str(model_dir))
    width, height = request.extra.get("frame_size") or (640, 360)
    frames = [np.zeros((int(height), int(width), 3), dtype=np.uint8) for _ in request.frame_indices]
    audio = [np.zeros(max(1, int(round((s.end - s.start) * AUDIO_RATE))), dtype=np.float32)
             for s in request.audio_spans]
    inputs = build_model_inputs(processor, request, frames, audio, max_pixels=max_pixels, return_tensors=None)
    return len(inputs["input_ids"][0])
