"""`baseline`: a weight-free counter (sound events, visual change, coloured shapes).

It reads the question for a few generic words (a colour, a shape, a sound, "times",
"different colours", "when the ... sounds", "together with"), measures the video
(engine.backends.signals), and answers in the format the protocol asks for: a count for
long/ref, event intervals / first-appearance boxes / labelled boxes for clue, wrapped in
<think>/<answer> for the thinking style. CPU-only users and the demo get real predictions
with no download; its numbers are the floor a model has to beat.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.backends.base import BackendError, Cancelled, ModelRequest, register_backend
from engine.backends.signals import (
    ACHROMATIC,
    COLOUR_HUES,
    SHAPES,
    Blob,
    SoundEvent,
    find_blobs,
    select_sounds,
    sound_events,
)

SAMPLE_FPS = 4.0
MAX_SAMPLED_FRAMES = 1000
AUDIO_BLOCK_S = 60.0  # audio is analysed in blocks of the track: bounded memory on hour-long videos
_MAX_SIDE = 640
_SAME_OBJECT_IOU = 0.3


@dataclass(frozen=True)
class Query:
    """What the question asks for, in the words the baseline understands (None: not said)."""

    colour: str | None
    shape: str | None
    sound: str | None
    pitch: str | None
    occurrences: bool
    distinct_colours: bool
    at_sound: bool
    with_sound: bool


def parse_query(question: str) -> Query:
    words = re.findall(r"[a-z]+", question.lower())
    text = " ".join(words)
    colour = next((w for w in words if w in COLOUR_HUES or w in ACHROMATIC), None)
    shape = next((s for w in words for s in SHAPES if w in (s, s + "s", s + "es")), None)
    sound_match = (re.search(r"(?:when|does) the ((?:high |low )?[a-z]+) sounds?\b", text)
                   or re.search(r"together with an? ([a-z]+)", text))
    sound = sound_match.group(1) if sound_match else None
    pitch = next((p for p in ("high", "low") if sound and sound.startswith(p)), None)
    return Query(colour=colour, shape=shape, sound=sound, pitch=pitch,
                 occurrences="times" in words, distinct_colours="different" in words and "colours" in words
                 or "different colors" in text, at_sound="when the" in text and sound is not None,
                 with_sound="together with" in text)


class BaselineBackend:
    name = "baseline"
    model_id = "baseline-signal-v1"

    def __init__(self, **_: object) -> None:
        self._measured = MeasureCache()

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        try:
            answer, notes = Answerer(request, cancel, self._measured).answer()
        except Cancelled:
            raise
        except Exception as exc:  # a media failure on this item only
            raise BackendError(f"baseline: {type(exc).__name__}: {exc}") from None
        if request.reasoning == "thinking":
            yield f"<think>{notes}</think><answer>{answer}</answer>"
        elif request.protocol == "clue":
            yield f"<answer>{answer}</answer>"
        else:
            yield answer

    def close(self) -> None:
        self._measured = MeasureCache()


class MeasureCache:
    """Blobs per (video, frame) and sound events per (video, span): items share videos."""

    MAX_FRAMES = 20000

    def __init__(self) -> None:
        self.blobs: dict[tuple[str, int], tuple[float, list[Blob]]] = {}
        self.sounds: dict[tuple[str, float, float], list[SoundEvent]] = {}  # (video, block, 0)

    def remember_blobs(self, key: tuple[str, int], value: tuple[float, list[Blob]]) -> None:
        if len(self.blobs) >= self.MAX_FRAMES:
            self.blobs.clear()
        self.blobs[key] = value


class Answerer:
    """Answers one request; `notes` says what was measured (the thinking text)."""

    def __init__(self, request: ModelRequest, cancel: threading.Event | None,
                 measured: MeasureCache | None = None) -> None:
        self.request = request
        self.cancel = cancel
        self.measured = measured or MeasureCache()
        self.query = parse_query(str(request.extra.get("question") or request.text))
        span = request.extra.get("span") or [0.0, float(request.extra.get("duration") or 0.0)]
        self.span = (float(span[0]), float(span[1]))

    def answer(self) -> tuple[str, str]:
        r = self.request
        if r.protocol == "clue" and r.category in ("object", "attribute"):
            return self._boxes_on_given_frames()
        if r.category == "event" or self.query.occurrences:
            intervals = self._event_intervals()
            if r.protocol == "clue":
                payload = [[f"{a:.2f}", f"{b:.2f}"] for a, b in intervals]
                return json.dumps(payload), f"Found {len(intervals)} occurrence(s)."
            return str(len(intervals)), self._describe(intervals)
        count, note = self._object_count()
        return str(count), note

    # ---- measuring
    def _check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    def _sounds(self) -> list[SoundEvent]:
        """Sound events overlapping the span, from fixed blocks of the track cached per video."""
        start, end = self.span
        first, last = int(start // AUDIO_BLOCK_S), int(max(start, end - 1e-6) // AUDIO_BLOCK_S)
        events = [e for k in range(first, last + 1) for e in self._block_sounds(k)]
        inside = [e for e in events if e.end > start and e.start < end]
        return select_sounds(inside, self.query.sound, self.query.pitch)

    def _block_sounds(self, block: int) -> list[SoundEvent]:
        """Events starting in block `block` (read with 1 s more, so an event at its end is whole)."""
        from engine.media.errors import NoAudioError
        from engine.media.sampling import sample_audio

        key = (self.request.video_path, float(block), 0.0)
        if key not in self.measured.sounds:
            self._check_cancel()
            origin = block * AUDIO_BLOCK_S
            try:
                samples = sample_audio(self.request.video_path, origin, origin + AUDIO_BLOCK_S + 1.0)
            except NoAudioError:
                samples = None
            events = [] if samples is None else sound_events(samples, offset=origin)
            self.measured.sounds[key] = [e for e in events if e.start < origin + AUDIO_BLOCK_S]
        return self.measured.sounds[key]

    def _timeline(self) -> tuple[list[tuple[float, list[Blob]]], float]:
        """(time, matching blobs) on a grid of the video's clock (so items share decoded frames),
        SAMPLE_FPS or coarser to stay under MAX_SAMPLED_FRAMES; and the grid step."""
        from engine.backends.inputs import video_facts

        facts = video_facts(self.request.video_path)
        start, end = self.span
        base = 1.0 / SAMPLE_FPS
        step = base * max(1, int(np.ceil((end - start) / MAX_SAMPLED_FRAMES / base)))
        times = np.arange(np.ceil(start / step) * step, max(end, start + step), step)
        indices = sorted({facts.index_at(float(t)) for t in times})
        return [(t, [b for b in blobs if self._matches(b)]) for t, blobs in self._blobs_at(indices)], step

    def _blobs_at(self, indices: list[int]) -> list[tuple[float, list[Blob]]]:
        from engine.media.sampling import sample_frames

        path = self.request.video_path
        missing = sorted({i for i in indices if (path, i) not in self.measured.blobs})
        for chunk in range(0, len(missing), 100):
            self._check_cancel()
            sampled = sample_frames(path, missing[chunk:chunk + 100])
            for index, t, frame in zip(missing[chunk:chunk + 100], sampled.times, sampled.frames, strict=True):
                self.measured.remember_blobs((path, index), (float(t), _blobs_full_scale(frame)))
        return [self.measured.blobs[(path, i)] for i in indices]

    def _matches(self, blob: Blob) -> bool:
        q = self.query
        colour_ok = q.colour is None or blob.colour == q.colour or (q.colour == "gray" and blob.colour == "grey")
        return colour_ok and (q.shape is None or blob.shape == q.shape)

    # ---- events
    def _event_intervals(self) -> list[tuple[float, float]]:
        q = self.query
        if q.shape is None and q.colour is None:
            return _merge([(e.start, e.end) for e in self._sounds()], gap=0.1)
        timeline, step = self._timeline()
        episodes = _episodes(timeline, step)
        if q.with_sound and q.sound:
            sounds = self._sounds()
            episodes = [ep for ep in episodes if any(s.start < ep[1] and s.end > ep[0] for s in sounds)]
        return episodes

    # ---- objects and attributes over the span
    def _object_count(self) -> tuple[int, str]:
        q = self.query
        timeline, _ = self._timeline()
        if q.at_sound:
            moment = self._sound_moment()
            if moment is not None:
                blobs = min(timeline, key=lambda tb: abs(tb[0] - moment - 0.1))[1] if timeline else []
                value = len({b.colour for b in blobs}) if q.distinct_colours else len(blobs)
                return value, f"At the sound ({moment:.2f} s) {len(blobs)} matching object(s) are on screen."
        if q.distinct_colours:
            seen: dict[str, int] = {}
            for _, blobs in timeline:
                for colour in {b.colour for b in blobs}:
                    seen[colour] = seen.get(colour, 0) + 1
            colours = sorted(c for c, n in seen.items() if n >= 2)
            return len(colours), f"Colours seen: {', '.join(colours) or 'none'}."
        objects = _new_objects(timeline)
        return len(objects), f"{len(objects)} distinct matching object(s) appear."

    def _sound_moment(self) -> float | None:
        sounds = self._sounds()
        return sounds[0].start if sounds else None

    # ---- clue object / attribute: the frames the request shows
    def _boxes_on_given_frames(self) -> tuple[str, str]:
        frames = self._blobs_at(list(self.request.frame_indices))
        scale = 1.0
        first_seen: list[list[Blob]] = []
        known: list[Blob] = []
        for _, blobs in frames:
            new = [b for b in blobs if self._matches(b) and not any(_iou(b.box, k.box) > _SAME_OBJECT_IOU for k in known)]
            known += new
            first_seen.append(new)
        if self.request.category == "object":
            payload = {f"Frame{i + 1}": [[round(v * scale) for v in b.box] for b in new] for i, new in enumerate(first_seen)}
            total = sum(len(v) for v in payload.values())
            return json.dumps(payload), f"{total} matching object(s) across {len(frames)} frame(s)."
        payload = {f"Frame{i + 1}": [{"bbox": list(b.box), "label": b.colour} for b in new]
                   for i, new in enumerate(first_seen)}
        labels = sorted({b.colour for new in first_seen for b in new})
        return json.dumps(payload), f"Groups by colour: {', '.join(labels) or 'none'}."

    def _describe(self, intervals: list[tuple[float, float]]) -> str:
        times = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in intervals[:20])
        return f"Found {len(intervals)} occurrence(s){': ' + times if times else ''}."


def _blobs_full_scale(frame: np.ndarray) -> list[Blob]:
    """Blobs found on a frame shrunk to at most _MAX_SIDE pixels, boxes mapped back to full size."""
    height, width = frame.shape[:2]
    step = max(1, int(np.ceil(max(height, width) / _MAX_SIDE)))
    if step == 1:
        return find_blobs(frame)
    blobs = find_blobs(np.ascontiguousarray(frame[::step, ::step]))
    return [Blob(tuple(int(v * step) for v in b.box), b.colour, b.shape, b.area * step * step) for b in blobs]  # type: ignore[arg-type]


def _episodes(timeline: list[tuple[float, list[Blob]]], step: float) -> list[tuple[float, float]]:
    """Runs of samples where a matching object is present (one missed sample bridged)."""
    runs: list[list[float]] = []
    for t, blobs in timeline:
        if not blobs:
            continue
        if runs and t - runs[-1][1] <= 2.01 * step:
            runs[-1][1] = t
        else:
            runs.append([t, t])
    return [(a, b + step) for a, b in runs]


def _new_objects(timeline: list[tuple[float, list[Blob]]], memory: float = 1.0) -> list[tuple[float, Blob]]:
    """A matching blob overlapping none seen in the last `memory` seconds is a new object
    (so one missed detection does not count an object twice)."""
    objects: list[tuple[float, Blob]] = []
    recent: list[tuple[float, Blob]] = []
    for t, blobs in timeline:
        recent = [(seen, b) for seen, b in recent if t - seen <= memory]
        objects += [(t, b) for b in blobs if not any(_iou(b.box, r.box) > _SAME_OBJECT_IOU for _, r in recent)]
        recent += [(t, b) for b in blobs]
    return objects


def _merge(intervals: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _iou(a, b) -> float:
    from engine.scoring.geometry import box_iou

    return box_iou(a, b)


register_backend("baseline", BaselineBackend)
