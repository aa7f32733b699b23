"""Timestamps in model text ("at 12.5 s", "1:05", "from 10 to 14 seconds", `[["3.2", "5.0"]]`),
found so the reasoning view can make each one a link that seeks the player. No Qt.

Frame numbers ("Frame3") and box coordinates (four numbers) are not times and are left alone.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

NUMBER = r"\d+(?:\.\d+)?"
UNIT = r"(?:s|sec|secs|second|seconds)\b"
SEEK_SCHEME = "seek:"

_CLOCK = re.compile(r"(?<![\d.:])(\d{1,2}):([0-5]\d)(?::([0-5]\d))?(\.\d+)?(?![\d:])")
_RANGE = re.compile(rf"(?<![\w.])({NUMBER})\s*(?:-|–|to|and)\s*({NUMBER})\s*{UNIT}")
_SECONDS = re.compile(rf"(?<![\w.])({NUMBER})\s*{UNIT}")
_PAIR = re.compile(rf"\[\s*\"?({NUMBER})\"?\s*,\s*\"?({NUMBER})\"?\s*\]")


@dataclass(frozen=True)
class TimeMention:
    """Characters [start, end) of the text name `seconds` into the video."""

    start: int
    end: int
    seconds: float


def find_timestamps(text: str) -> list[TimeMention]:
    """Every time mentioned, in text order, never overlapping (the earlier, longer mention wins)."""
    found: list[TimeMention] = []
    for match in _CLOCK.finditer(text):
        found.append(TimeMention(match.start(), match.end(), _clock_seconds(match)))
    for pattern in (_RANGE, _PAIR):
        for match in pattern.finditer(text):
            for group in (1, 2):
                found.append(TimeMention(match.start(group), match.end(group), float(match.group(group))))
    for match in _SECONDS.finditer(text):
        found.append(TimeMention(match.start(), match.end(), float(match.group(1))))
    return _without_overlaps(found)


def _clock_seconds(match: re.Match) -> float:
    first, second, third, fraction = match.groups()
    if third is None:  # m:ss
        value = int(first) * 60 + int(second)
    else:  # h:mm:ss
        value = int(first) * 3600 + int(second) * 60 + int(third)
    return value + (float(fraction) if fraction else 0.0)


def _without_overlaps(mentions: list[TimeMention]) -> list[TimeMention]:
    kept: list[TimeMention] = []
    for mention in sorted(mentions, key=lambda m: (m.start, -(m.end - m.start))):
        if kept and mention.start < kept[-1].end:
            continue
        kept.append(mention)
    return kept


def linkify(text: str) -> str:
    """HTML of the text (escaped, line breaks kept) with each time a `seek:SECONDS` link."""
    parts: list[str] = []
    position = 0
    for mention in find_timestamps(text):
        parts.append(html.escape(text[position : mention.start]))
        label = html.escape(text[mention.start : mention.end])
        parts.append(f'<a href="{SEEK_SCHEME}{mention.seconds:g}">{label}</a>')
        position = mention.end
    parts.append(html.escape(text[position:]))
    return "".join(parts).replace("\n", "<br>")


def seek_target(href: str) -> float | None:
    """The seconds of a link made by `linkify`; None for any other link."""
    if not href.startswith(SEEK_SCHEME):
        return None
    try:
        return float(href[len(SEEK_SCHEME) :])
    except ValueError:
        return None
