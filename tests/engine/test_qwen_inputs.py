"""engine.backends.qwen_inputs: a ModelRequest + frames + audio -> Qwen2.5-Omni processor inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.backends.base import AudioSpan, ModelRequest
from engine.backends.qwen_inputs import (
    DEFAULT_MAX_PIXELS,
    build_model_inputs,
    chat_messages,
    count_prompt_tokens,
    load_processor,
)


def _request(frames_as: str = "video", n_frames: int = 8, audio_seconds: tuple[float, ...] = (5.0,),
             duration: float = 16.0, size: tuple[int, int] = (160, 96)) -> ModelRequest:
    times = tuple(round(duration * (i + 0.5) / n_frames, 2) for i in range(n_frames))
    segments: list = [("text", "This is a video:\n")]
    if frames_as == "video":
        segments.append(("video", tuple(range(n_frames))))
        segments.append(("text", "\n".join(f"Frame{i + 1} sampled at {t} seconds" for i, t in enumerate(times)) + "\n"))
    else:
        for i, t in enumerate(times):
            segments += [("text", f"Frame{i + 1} sampled at {t} seconds\n"), ("frame", i)]
    spans, start = [], 0.0
    for k, seconds in enumerate(audio_seconds):
        spans.append(AudioSpan(start, start + seconds))
        segments += [("text", f"Audio from {start} to {start + seconds} seconds:\n"), ("audio", k)]
        start += seconds
    segments.append(("text", "How many times does the bell ring?"))
    return ModelRequest(index=3, video_path="unused.mp4", protocol="long", reasoning="direct", category="event",
                        system_prompt="", segments=tuple(segments), frame_indices=tuple(range(0, 10 * n_frames, 10)),
                        frame_times=times, audio_spans=tuple(spans), frames_as=frames_as,  # type: ignore[arg-type]
                        extra={"frame_size": list(size), "duration": duration})


def _media(request: ModelRequest, size: tuple[int, int] = (160, 96)):
    rng = np.random.default_rng(1)
    width, height = size
    frames = rng.integers(0, 255, (len(request.frame_indices), height, width, 3), dtype=np.uint8)
    audio = [(0.1 * rng.standard_normal(int((s.end - s.start) * 16000))).astype(np.float32) for s in request.audio_spans]
    return frames, audio


@pytest.fixture(scope="module")
def processor(tiny_model_dir: Path):
    return load_processor(str(tiny_model_dir))


def _count(inputs, token_id: int) -> int:
    return int((inputs["input_ids"][0] == token_id).sum())


def test_frames_travel_as_one_video_with_the_times_in_the_text(processor) -> None:
    request = _request("video", n_frames=8)
    inputs = build_model_inputs(processor, request, *_media(request))
    grid = inputs["video_grid_thw"][0].tolist()
    assert grid[0] == 4  # 8 frames, merged in pairs
    assert _count(inputs, processor.video_token_id) == grid[0] * grid[1] * grid[2] // 4
    assert "pixel_values" not in inputs
    # fps = frames / span: each merged pair covers 2 / (8 / 16 s) = 4 s of the video's clock.
    assert float(inputs["video_second_per_grid"][0]) == pytest.approx(4.0)
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    assert "Frame8 sampled at 15.0 seconds" in text
    assert text.index("<|VIDEO|>") < text.index("Frame1 sampled") < text.index("<|AUDIO|>")


def test_audio_is_not_cut_at_30_seconds(processor) -> None:
    request = _request("video", n_frames=2, audio_seconds=(45.0, 4.0))
    inputs = build_model_inputs(processor, request, *_media(request))
    # ~25 audio tokens per second, every second of both spans.
    assert _count(inputs, processor.audio_token_id) == 1125 + 100
    assert inputs["feature_attention_mask"].sum(-1).tolist() == [4500, 400]


def test_frames_as_captioned_images(processor) -> None:
    request = _request("images", n_frames=3, audio_seconds=())
    inputs = build_model_inputs(processor, request, *_media(request))
    grids = inputs["image_grid_thw"]
    assert len(grids) == 3 and "pixel_values_videos" not in inputs and "input_features" not in inputs
    assert _count(inputs, processor.image_token_id) == int(sum(g.prod() // 4 for g in grids))
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    assert text.count("<|vision_bos|>") == 3
    assert text.index("Frame2 sampled") < text.index("<|IMAGE|>", text.index("Frame2 sampled"))


def test_pixel_budget_per_frame(processor) -> None:
    request = _request("video", n_frames=2, audio_seconds=(), size=(1280, 720))
    frames, audio = _media(request, size=(1280, 720))
    _, h, w = build_model_inputs(processor, request, frames, audio)["video_grid_thw"][0].tolist()
    assert h * w * 14 * 14 <= DEFAULT_MAX_PIXELS and (w * 14) / (h * 14) == pytest.approx(16 / 9, rel=0.1)
    _, h_small, w_small = build_model_inputs(processor, request, frames, audio,
                                             max_pixels=DEFAULT_MAX_PIXELS // 4)["video_grid_thw"][0].tolist()
    assert h_small * w_small < h * w


def test_chat_template_parts_carry_only_a_type(processor) -> None:
    request = _request("video")
    for message in chat_messages(request):
        for part in message["content"]:
            assert set(part) in ({"type"}, {"type", "text"})


def test_mismatched_media_is_refused(processor) -> None:
    request = _request("video", n_frames=4)
    frames, audio = _media(request)
    with pytest.raises(ValueError, match="3 frames given for 4"):
        build_model_inputs(processor, request, frames[:3], audio)


def test_token_count_for_dry_run_matches_real_media(processor, tiny_model_dir: Path) -> None:
    request = _request("video", n_frames=6, audio_seconds=(7.0,))
    real = build_model_inputs(processor, request, *_media(request))
    assert count_prompt_tokens(str(tiny_model_dir), request) == real["input_ids"].shape[1]


def test_a_completion_extends_the_prompt_tokens_unchanged(processor) -> None:
    request = _request("video", n_frames=4, audio_seconds=(2.0,))
    frames, audio = _media(request)
    prompt = build_model_inputs(processor, request, frames, audio)["input_ids"][0].tolist()
    full = build_model_inputs(processor, request, frames, audio,
                              completion="<think>two rings</think><answer>2</answer>")["input_ids"][0].tolist()
    assert full[: len(prompt)] == prompt
    assert processor.tokenizer.decode(full[len(prompt):]) == "<think>two rings</think><answer>2</answer><|im_end|>"
