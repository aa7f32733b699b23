"""A `ModelRequest` as an OpenAI chat-completions message list: frames as JPEG, audio as WAV.

The request's segments decide the layout. A ("frame", i) segment becomes one `image_url`
part in its place (so the `official` template's "Frame{i+1} sampled at {t} seconds" text sits
right before its image, as the benchmark's scripts send it); a ("video", (i, ...)) segment
becomes one vLLM `video_url` part holding a `data:video/jpeg;base64,` URL of those frames
(comma-separated), with `media_io_kwargs.video.fps` set to the frames' mean rate (far fewer
tokens than 50 image parts); an ("audio", k) segment becomes an `input_audio` (OpenAI) or
`audio_url` (vLLM) part with the 16 kHz mono WAV of `audio_spans[k]`, or nothing when the
audio part is "none" (`--no-audio`).
"""

from __future__ import annotations

import base64
import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from engine.backends.base import BackendError, ModelRequest

AudioPart = Literal["input_audio", "audio_url", "none"]


@dataclass(frozen=True)
class MediaOptions:
    """How media travel in the request body."""

    audio_part: AudioPart = "input_audio"
    max_pixels: int | None = None
    jpeg_quality: int = 90


def build_messages(request: ModelRequest, options: MediaOptions) -> tuple[list[dict], dict[str, Any]]:
    """The chat `messages` and any extra body fields (vLLM's `media_io_kwargs`) for one item."""
    frames = _encoded_frames(request, options)
    content: list[dict] = []
    extra: dict[str, Any] = {}
    for kind, value in request.segments:
        if kind == "text":
            if value:
                content.append({"type": "text", "text": value})
        elif kind == "frame":
            content.append(_image_part(frames[int(value)]))
        elif kind == "video":
            chosen = [int(i) for i in value]
            content.append(_video_part([frames[i] for i in chosen]))
            fps = video_fps([request.frame_times[i] for i in chosen])
            extra["media_io_kwargs"] = {"video": {"fps": fps, "num_frames": len(chosen)}}
        elif kind == "audio":
            content.extend(_audio_part(request, int(value), options.audio_part))
        else:
            raise BackendError(f"unknown request segment kind {kind!r}")
    messages: list[dict] = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    messages.append({"role": "user", "content": content})
    return messages, extra


def video_fps(times: Sequence[float]) -> float:
    """The mean sampling rate of the frames (frames per second of the sampled clip)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 1.0
    return round((len(times) - 1) / (times[-1] - times[0]), 6)


def _image_part(jpeg_b64: str) -> dict:
    return {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{jpeg_b64}"}}


def _video_part(frames: list[str]) -> dict:
    return {"type": "video_url", "video_url": {"url": "data:video/jpeg;base64," + ",".join(frames)}}


def _encoded_frames(request: ModelRequest, options: MediaOptions) -> list[str]:
    if not request.frame_indices:
        return []
    from engine.media.errors import MediaError
    from engine.media.sampling import sample_frames

    try:
        sampled = sample_frames(request.video_path, request.frame_indices)
    except MediaError as exc:
        raise BackendError(f"cannot read frames: {exc}") from None
    return [encode_jpeg(frame, options.max_pixels, options.jpeg_quality) for frame in sampled.frames]


def encode_jpeg(rgb: np.ndarray, max_pixels: int | None = None, quality: int = 90) -> str:
    """Base64 JPEG of an RGB frame, scaled down (aspect kept) to at most `max_pixels` pixels."""
    import cv2

    height, width = rgb.shape[:2]
    if max_pixels and height * width > max_pixels:
        scale = (max_pixels / (height * width)) ** 0.5
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise BackendError("could not encode a frame as JPEG")
    return base64.b64encode(data.tobytes()).decode("ascii")


def _audio_part(request: ModelRequest, k: int, audio_part: AudioPart) -> list[dict]:
    if audio_part == "none":
        return []
    from engine.media.errors import MediaError, NoAudioError
    from engine.media.sampling import MODEL_AUDIO_RATE, sample_audio

    span = request.audio_spans[k]
    try:
        samples = sample_audio(request.video_path, span.start, span.end)
    except NoAudioError:
        return []  # a silent video: the frames and text still go
    except MediaError as exc:
        raise BackendError(f"cannot read audio: {exc}") from None
    wav = base64.b64encode(wav_bytes(samples, MODEL_AUDIO_RATE)).decode("ascii")
    if audio_part == "input_audio":
        return [{"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}]
    return [{"type": "audio_url", "audio_url": {"url": f"data:audio/wav;base64,{wav}"}}]


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM mono WAV of float samples in [-1, 1]."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
