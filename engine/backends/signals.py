"""Weight-free signal features for the `baseline` backend: sound events and coloured shapes.

Sound: tonal tracks followed through a spectrogram (peak picking, frequency continuity),
grouped by onset into events, each described by what generic acoustic words mean: a `click`
is impulsive and bright (very short, high), a `chirp` sweeps in frequency, a `whistle` is a high steady tone,
a `beep` a lower steady tone; several partials starting together form one harmonic sound.
Vision: objects are connected regions that stand out from the frame's median colour; each
gets a colour word (hue / lightness) and a shape word (hull vertices, fill, convexity).
Nothing here knows how any particular video was made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIO_RATE = 16000
_HOP = 160  # 10 ms
_WIN = 1024
_PEAK_DB = 15.0  # a partial stands this far above its frequency bin's median level
_MIN_TRACK_S = 0.04
_ONSET_GROUP_S = 0.03
_CLICK_MAX_S = 0.08
_SWEEP_OCTAVES = 0.2
_WHISTLE_MIN_HZ = 2000.0
_BRIGHT_HZ = 2000.0  # a click is a short *bright* transient; short low pieces are tails of other sounds

COLOUR_HUES = {"red": 0, "orange": 30, "yellow": 55, "green": 120, "cyan": 180, "blue": 225,
               "purple": 270, "magenta": 300, "pink": 330}
ACHROMATIC = ("white", "grey", "gray", "black")
SHAPES = ("circle", "triangle", "square", "diamond", "pentagon", "hexagon", "star", "cross")
SOUND_KINDS = ("click", "chirp", "whistle", "beep")


@dataclass(frozen=True)
class SoundEvent:
    start: float
    end: float
    f_start: float
    f_end: float
    f_low: float
    partials: int

    @property
    def kind(self) -> str:
        if self.end - self.start <= _CLICK_MAX_S:
            return "click" if self.f_low >= _BRIGHT_HZ else "fragment"
        if self.partials == 1 and abs(np.log2(self.f_end / self.f_start)) >= _SWEEP_OCTAVES:
            return "chirp"
        if self.partials == 1:
            return "whistle" if self.f_low >= _WHISTLE_MIN_HZ else "beep"
        return "harmonic"


@dataclass(frozen=True)
class Blob:
    box: tuple[int, int, int, int]
    colour: str
    shape: str | None
    area: int


# ------------------------------------------------------------------ sound
def sound_events(samples: np.ndarray, offset: float = 0.0, sr: int = AUDIO_RATE) -> list[SoundEvent]:
    """Sound events in `samples` (mono, `sr`), times shifted by `offset` seconds."""
    if len(samples) < _WIN * 2:
        return []
    power = _spectrogram(np.asarray(samples, dtype=np.float32)) + 1e-12
    tracks = _tonal_tracks(power, sr)
    return _absorb_fragments([_event(group, offset) for group in _group_by_onset(tracks)])


def _spectrogram(x: np.ndarray) -> np.ndarray:
    count = (len(x) - _WIN) // _HOP
    frames = np.lib.stride_tricks.sliding_window_view(x, _WIN)[::_HOP][:count] * np.hanning(_WIN)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def _tonal_tracks(power: np.ndarray, sr: int) -> list[tuple[float, float, np.ndarray]]:
    """(start s, end s, frequencies) of partials followed frame to frame (within 8% of an octave)."""
    relative = 10 * np.log10(power / np.median(power, axis=0))
    level = 10 * np.log10(power)
    loud = np.percentile(level, 50) + 25
    freqs = np.fft.rfftfreq(_WIN, 1 / sr)
    active: list[dict] = []
    finished: list[dict] = []
    for t in range(power.shape[0]):
        r = relative[t]
        peaks = np.where((r[1:-1] > _PEAK_DB) & (r[1:-1] >= r[:-2]) & (r[1:-1] >= r[2:]) & (level[t, 1:-1] > loud))[0] + 1
        taken: set[int] = set()
        for p in peaks[np.argsort(-r[peaks])][:6]:
            f = max(freqs[p], 1.0)
            near = [k for k, tr in enumerate(active) if k not in taken and abs(np.log2(f / tr["f"][-1])) < 0.08]
            if near:
                k = min(near, key=lambda k: abs(f - active[k]["f"][-1]))
                active[k]["t1"] = t
                active[k]["f"].append(f)
            else:
                active.append({"t0": t, "t1": t, "f": [f]})
                k = len(active) - 1
            taken.add(k)
        finished += [tr for tr in active if t - tr["t1"] > 3]
        active = [tr for tr in active if t - tr["t1"] <= 3]
    tracks = []
    for tr in finished + active:
        start, end = tr["t0"] * _HOP / sr, (tr["t1"] + 1) * _HOP / sr + _WIN / sr / 2
        if end - start >= _MIN_TRACK_S:
            tracks.append((start, end, np.asarray(tr["f"])))
    return sorted(tracks, key=lambda tr: tr[0])


def _group_by_onset(tracks: list) -> list[list]:
    """Partials that start together belong to one sound; a sweep cut in pieces is re-joined."""
    groups: list[list] = []
    for track in tracks:
        if groups and abs(track[0] - groups[-1][0][0]) <= _ONSET_GROUP_S:
            groups[-1].append(track)
        elif groups and _continues_sweep(groups[-1], track):
            groups[-1].append(track)
        else:
            groups.append([track])
    return groups


def _continues_sweep(group: list, track) -> bool:
    last = group[-1]
    return len(group) == 1 and track[0] < last[1] and abs(np.log2(track[2][0] / last[2][-1])) < 0.3 \
        and abs(np.log2(last[2][-1] / last[2][0])) >= _SWEEP_OCTAVES


def _event(group: list, offset: float) -> SoundEvent:
    start = min(tr[0] for tr in group)
    end = max(tr[1] for tr in group)
    same_onset = [tr for tr in group if abs(tr[0] - start) <= _ONSET_GROUP_S]
    freqs = np.concatenate([tr[2] for tr in group]) if len(same_onset) < len(group) else group[0][2]
    edge = max(1, len(freqs) // 5)
    partials = _distinct_partials([float(np.median(tr[2])) for tr in same_onset])
    return SoundEvent(round(start + offset, 3), round(end + offset, 3), float(np.median(freqs[:edge])),
                      float(np.median(freqs[-edge:])), partials[0], len(partials))


def _distinct_partials(freqs: list[float]) -> list[float]:
    """Partials more than 10% apart (a modulated tone can show two neighbouring peaks)."""
    distinct: list[float] = []
    for f in sorted(freqs):
        if not distinct or f > distinct[-1] * 1.1:
            distinct.append(f)
    return distinct


def _absorb_fragments(events: list[SoundEvent]) -> list[SoundEvent]:
    """Drop pieces of a sound already playing: a later event overlapping an earlier one and either
    very short or inside its frequency range (sweep restarts, decays, partial onsets)."""
    kept: list[SoundEvent] = []
    for event in sorted(events, key=lambda e: (e.start, -(e.end - e.start))):
        host = next((k for k in kept if k.start <= event.start < k.end), None)
        if host is not None and (event.end - event.start <= _CLICK_MAX_S or _within_range(event, host)):
            continue
        kept.append(event)
    return kept


def _within_range(event: SoundEvent, host: SoundEvent) -> bool:
    low = min(host.f_start, host.f_end, host.f_low) * 0.85
    high = max(host.f_start, host.f_end, host.f_low) * 1.15
    return low <= event.f_low <= high and low <= event.f_start <= high


def select_sounds(events: list[SoundEvent], word: str | None, qualifier: str | None) -> list[SoundEvent]:
    """Events a sound word names; 'high'/'low' keep its highest / lowest pitch."""
    if word is None:
        return list(events)
    kind = next((k for k in SOUND_KINDS if k in word), None)
    chosen = [e for e in events if e.kind == kind] if kind else [e for e in events if e.kind not in ("click", "fragment")]
    if qualifier and len(chosen) > 1:
        chosen = _pitch_side(chosen, qualifier)
    return chosen


def _pitch_side(events: list[SoundEvent], qualifier: str) -> list[SoundEvent]:
    """'high': the events within 10% of the highest pitch; 'low': of the lowest."""
    target = max(e.f_low for e in events) if qualifier == "high" else min(e.f_low for e in events)
    return [e for e in events if abs(np.log2(e.f_low / target)) < 0.14]


# ------------------------------------------------------------------ vision
def find_blobs(frame: np.ndarray, threshold: int = 45) -> list[Blob]:
    """Regions standing out from the frame's median colour, with colour and shape words."""
    import cv2

    background = np.median(frame.reshape(-1, 3), axis=0).astype(np.int16)
    mask = (np.abs(frame.astype(np.int16) - background).max(axis=2) > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_area = max(20.0, frame.shape[0] * frame.shape[1] * 0.0003)
    blobs = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area or area > frame.shape[0] * frame.shape[1] * 0.25:
            continue
        region = (labels[y:y + h, x:x + w] == i).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        rgb = np.median(frame[y:y + h, x:x + w][region > 0], axis=0)
        blobs.append(Blob((x, y, x + w - 1, y + h - 1), colour_name(rgb), shape_name(max(contours, key=cv2.contourArea)), area))
    return blobs


def colour_name(rgb) -> str:
    import cv2

    h, s, v = (float(c) for c in cv2.cvtColor(np.uint8([[rgb]]), cv2.COLOR_RGB2HSV_FULL)[0, 0])
    hue, saturation, value = h * 360 / 256, s / 255, v / 255
    if saturation < 0.25:
        return "white" if value > 0.75 else ("black" if value < 0.2 else "grey")
    return min(COLOUR_HUES, key=lambda n: min(abs(hue - COLOUR_HUES[n]), 360 - abs(hue - COLOUR_HUES[n])))


def shape_name(contour) -> str | None:
    """Shape word from the outline: convexity, corners of the hull, fill of the box / ellipse."""
    import cv2

    area = cv2.contourArea(contour)
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull)
    if area <= 0 or hull_area <= 0:
        return None
    _, _, w, h = cv2.boundingRect(contour)
    solidity, extent = area / hull_area, area / (w * h)
    corners = len(cv2.approxPolyDP(hull, 0.04 * cv2.arcLength(hull, True), True))
    if solidity < 0.8:
        return "star" if corners == 5 or solidity < 0.6 else "cross"
    if extent > 0.85:
        return "square"
    _, radius = cv2.minEnclosingCircle(contour)
    circle_fill = area / (np.pi * radius * radius) if radius > 0 else 0.0
    if circle_fill >= 0.87 or corners >= 7:  # a disc fills its enclosing circle; a hexagon ~0.83
        return "circle"
    return {3: "triangle", 4: "diamond", 5: "pentagon", 6: "hexagon"}.get(corners)
