"""Item -> ModelRequest: which frames (the benchmark's sampler), which audio, then the prompt.

Frames follow the published eval scripts: `n` segment midpoints over the frame indices
(`int(seg/2 + round(seg*i))`, `seg = (frame_count - 1) / n`) of the whole video (long, clue
event) or of the query-interval clip (ref, with clip-relative times); clue object/attribute
items show the frames at their distinct clue timestamps (`int(t * fps)`), as captioned images.

Long audio (the scripts send none; omni models get it unless `--no-audio`): a span up to
`AudioPolicy.cap_seconds` (600 s, about 15k audio tokens at ~25 tokens/s) goes whole; a
longer one is cut to windows centred on the sampled frames, each `cap / frames` seconds
(12 s for 50 frames) and at most `max_window` (30 s), merged where they touch. With 50
frames at the default pixel budget (~3.6k visual tokens) that fits a 32k context with room
for the text and the answer. Nothing is decoded here: the backend decodes (engine.media.sampling).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from engine.backends.base import AudioSpan, ModelRequest
from engine.backends.prompts import PromptSet, render_request
from engine.benchmark import Item
from engine.errors import UserError

AUDIO_TOKENS_PER_SECOND = 25
DEFAULT_FRAMES = 50


class InputError(UserError):
    """An item whose inputs cannot be built (missing or unreadable video)."""


@dataclass(frozen=True)
class AudioPolicy:
    """How much audio a request carries; the defaults fit 50 frames in a 32k context."""

    enabled: bool = True
    cap_seconds: float = 600.0
    max_window: float = 30.0


@dataclass(frozen=True)
class InputOptions:
    frames: int = DEFAULT_FRAMES
    frames_as: Literal["video", "images"] = "video"
    audio: AudioPolicy = field(default_factory=AudioPolicy)
    max_new_tokens: int = 1024


@dataclass(frozen=True)
class VideoFacts:
    """What request building needs from a video file: frame clock, size, audio presence."""

    path: Path
    frame_times: tuple[float, ...]
    duration: float
    size: tuple[int, int]
    has_audio: bool

    @property
    def frame_count(self) -> int:
        return len(self.frame_times)

    @property
    def fps(self) -> float:
        return self.frame_count / self.duration if self.duration > 0 else 0.0

    def first_index_from(self, seconds: float) -> int:
        """First frame whose presentation time is >= seconds (clamped to the video)."""
        import bisect

        return min(bisect.bisect_left(self.frame_times, seconds - 1e-9), self.frame_count - 1)

    def index_at(self, seconds: float) -> int:
        """Last frame whose presentation time is <= seconds (clamped to the video)."""
        import bisect

        return min(max(bisect.bisect_right(self.frame_times, seconds + 1e-9) - 1, 0), self.frame_count - 1)


@dataclass(frozen=True)
class MediaPlan:
    """The media of one request: file frame indices, the times the prompt states, audio spans."""

    video_path: Path
    layout: Literal["timeline", "clue_frames"]
    frames_as: Literal["video", "images"]
    frame_indices: tuple[int, ...]
    frame_times: tuple[float, ...]
    audio_spans: tuple[AudioSpan, ...]
    audio_stated_times: tuple[tuple[float, float], ...]
    audio_note: str
    frame_size: tuple[int, int]
    duration: float
    span: tuple[float, float] = (0.0, 0.0)


def official_frame_indices(frame_count: int, n: int) -> list[int]:
    """The benchmark's sampler: segment midpoints, `int(seg/2 + round(seg*i))`, seg=(count-1)/n."""
    if frame_count <= 0 or n <= 0:
        return []
    seg = float(frame_count - 1) / n
    # round() of a Python float is banker's rounding, like np.round in the scripts.
    return [int(seg / 2 + round(seg * i)) for i in range(n)]


def clue_timestamps(item: Item) -> list[float]:
    """Distinct clue timestamps in order of first appearance (object and attribute items)."""
    boxes = item.clue if item.category == "object" else [b for cluster in item.clue for b in cluster]
    seen: list[float] = []
    for box in boxes:
        if box.timestamp not in seen:
            seen.append(box.timestamp)
    return seen


@lru_cache(maxsize=8)
def video_facts(path: str) -> VideoFacts:
    """Open the video once per path (items share videos); media errors become InputError."""
    from engine.media.errors import MediaError
    from engine.media.video import open_video

    if not os.path.isfile(path):
        raise InputError(f"video not found: {path}")
    try:
        with open_video(path, read_ahead=0, cache_mb=1) as video:
            return VideoFacts(Path(path), tuple(float(t) for t in video.frame_times), float(video.duration),
                              tuple(video.size), bool(video.has_audio))  # type: ignore[arg-type]
    except MediaError as exc:
        raise InputError(f"{Path(path).name}: {exc}") from None


def plan_media(item: Item, protocol: str, facts: VideoFacts, options: InputOptions) -> MediaPlan:
    """Choose frames and audio for one item under one protocol."""
    if protocol == "clue" and item.category in ("object", "attribute"):
        times = clue_timestamps(item)
        indices = [min(max(int(t * facts.fps), 0), facts.frame_count - 1) for t in times]
        stated = [round(t, 2) for t in times]
        return _plan(facts, "clue_frames", "images", indices, stated, 0.0, (0.0, facts.duration), times, options)
    start_time, end_time = 0.0, facts.duration
    first, last = 0, facts.frame_count - 1
    if protocol == "ref":
        if item.query_interval is None:
            raise InputError(f"item {item.index} has no query_interval (the ref protocol needs one)")
        start_time, end_time = item.query_interval
        first, last = facts.first_index_from(start_time), facts.index_at(end_time)
        last = max(first, last)
    indices = [first + i for i in official_frame_indices(last - first + 1, options.frames)]
    origin = start_time  # the clip of the query interval starts at 0
    stated = [round(max(0.0, facts.frame_times[i] - origin), 2) for i in indices]
    centres = [facts.frame_times[i] for i in indices]
    return _plan(facts, "timeline", options.frames_as, indices, stated, origin, (start_time, end_time), centres, options)


def _plan(facts: VideoFacts, layout, frames_as, indices: list[int], stated: list[float], origin: float,
          span: tuple[float, float], centres: Sequence[float], options: InputOptions) -> MediaPlan:
    spans, note = audio_spans(span, centres, facts.has_audio, options.audio)
    return MediaPlan(
        video_path=facts.path, layout=layout, frames_as=frames_as, frame_indices=tuple(indices),
        frame_times=tuple(stated), audio_spans=spans,
        audio_stated_times=tuple((max(0.0, s.start - origin), max(0.0, s.end - origin)) for s in spans),
        audio_note=note, frame_size=facts.size, duration=span[1] - span[0] if layout == "timeline" else facts.duration,
        span=(float(span[0]), float(span[1])),
    )


def audio_spans(span: tuple[float, float], centres: Sequence[float], has_audio: bool,
                policy: AudioPolicy) -> tuple[tuple[AudioSpan, ...], str]:
    """The audio of `span`: whole up to the cap, else merged windows around `centres`; and a note."""
    start, end = span
    if not policy.enabled:
        return (), "audio: off (--no-audio)"
    if not has_audio:
        return (), "audio: none (the video has no audio track)"
    length = max(0.0, end - start)
    if length <= policy.cap_seconds or not centres:
        spans = (AudioSpan(round(start, 3), round(end, 3)),)
        return spans, f"audio: the whole {length:.1f} s (~{_tokens(length)} audio tokens)"
    window = min(policy.cap_seconds / max(len(centres), 1), policy.max_window)
    merged: list[list[float]] = []
    for centre in sorted(centres):
        a, b = max(start, centre - window / 2), min(end, centre + window / 2)
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    spans = tuple(AudioSpan(round(a, 3), round(b, 3)) for a, b in merged if b > a)
    total = sum(s.end - s.start for s in spans)
    return spans, (f"audio: {len(spans)} window(s) of up to {window:.1f} s around the frames, {total:.1f} s of "
                   f"{length:.1f} s (~{_tokens(total)} audio tokens; cap {policy.cap_seconds:.0f} s)")


def _tokens(seconds: float) -> int:
    return int(round(seconds * AUDIO_TOKENS_PER_SECOND))


class RequestBuilder:
    """Builds the request of each item; one per run (video facts are cached per path)."""

    def __init__(self, prompts: PromptSet, videos_dir: str | Path, protocol: str, reasoning: str,
                 options: InputOptions | None = None) -> None:
        self.prompts = prompts
        self.videos_dir = Path(videos_dir)
        self.protocol = protocol
        self.reasoning = reasoning
        self.options = options or InputOptions()

    def video_path(self, item: Item) -> Path:
        return self.videos_dir / item.video

    def build(self, item: Item) -> ModelRequest:
        """InputError (recorded on the item's row) when the video is missing or unreadable."""
        facts = video_facts(str(self.video_path(item)))
        plan = plan_media(item, self.protocol, facts, self.options)
        return render_request(self.prompts, item, self.protocol, self.reasoning, plan, self.options.max_new_tokens)
