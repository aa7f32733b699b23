"""Audio synthesis: named sounds with distinct spectra, rendered in chunks at absolute times.

Each sound is a pure function of time since its start, so any chunking of the
track gives the same samples, and a long video never holds its whole track in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from engine.synth.scene import Sound

AMPLITUDE = 0.22
NOISE_LEVEL = 0.004
FADE_S = 0.008

BEEP_HZ: dict[str, float] = {"low beep": 440.0, "mid beep": 880.0, "high beep": 1760.0}
"""Beep pitches; a buzz (odd harmonics of 110 Hz) never lands on them, so their bands stay clean."""


def _tone(hz: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda t: np.sin(2 * np.pi * hz * t)


def _chirp(t: np.ndarray) -> np.ndarray:
    # Rising sweep 1000 -> 1500 Hz over half a second, repeating: between the mid and high beeps.
    cycle = np.mod(t, 0.5)
    return np.sin(2 * np.pi * (1000.0 * cycle + 500.0 * cycle**2))


def _click(t: np.ndarray) -> np.ndarray:
    return np.exp(-t / 0.004) * np.sin(2 * np.pi * 3500.0 * t)


def _whistle(t: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * 2600.0 * t + 6.0 * np.sin(2 * np.pi * 6.0 * t))


def _buzz(t: np.ndarray) -> np.ndarray:
    return 0.6 * np.sign(np.sin(2 * np.pi * 110.0 * t))


WAVEFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    **{name: _tone(hz) for name, hz in BEEP_HZ.items()},
    "chirp": _chirp,
    "click": _click,
    "whistle": _whistle,
    "buzz": _buzz,
}


def _envelope(t: np.ndarray, length: float) -> np.ndarray:
    fade = min(FADE_S, length / 4)
    return np.clip(np.minimum(t, length - t) / fade, 0.0, 1.0)


class AudioTrack:
    """Mixes a scene's sounds plus faint noise; `render(n0, n1)` gives samples [n0, n1)."""

    def __init__(self, sounds: Sequence[Sound], rate: int, seed: int) -> None:
        self.rate = rate
        self.seed = seed
        self.sounds = sorted(sounds, key=lambda s: (s.start, s.end, s.kind))
        self._starts = np.array([round(s.start * rate) for s in self.sounds], dtype=np.int64)
        self._longest = max((round((s.end - s.start) * rate) + 1 for s in self.sounds), default=0)

    def render(self, n0: int, n1: int) -> np.ndarray:
        noise = np.random.default_rng([self.seed, 5, n0]).normal(0.0, NOISE_LEVEL, n1 - n0)
        out = noise.astype(np.float64)
        first = int(np.searchsorted(self._starts, n0 - self._longest, side="left"))
        last = int(np.searchsorted(self._starts, n1, side="left"))
        for sound in self.sounds[first:last]:
            self._mix(out, sound, n0, n1)
        return out.astype(np.float32)

    def _mix(self, out: np.ndarray, sound: Sound, n0: int, n1: int) -> None:
        s0, s1 = round(sound.start * self.rate), round(sound.end * self.rate)
        a, b = max(n0, s0), min(n1, s1)
        if a >= b:
            return
        t = (np.arange(a, b) - s0) / self.rate
        out[a - n0 : b - n0] += AMPLITUDE * WAVEFORMS[sound.kind](t) * _envelope(t, (s1 - s0) / self.rate)
