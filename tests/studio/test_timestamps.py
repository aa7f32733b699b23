"""Timestamps in reasoning text become seek links (plain Python)."""

from __future__ import annotations

import pytest

from avr_studio.models.timestamps import find_timestamps, linkify, seek_target


def seconds_in(text: str) -> list[float]:
    return [m.seconds for m in find_timestamps(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("A knock at 12.5s and another at 40 seconds.", [12.5, 40.0]),
    ("The beep starts at 1:05 and again at 01:02:03.5", [65.0, 3723.5]),
    ("Heard from 10 to 14.2 seconds, then 20-22 s.", [10.0, 14.2, 20.0, 22.0]),
    ('<answer>[["3.20", "5.00"], [7, 9.5]]</answer>', [3.2, 5.0, 7.0, 9.5]),
    ("Frame3 sampled at 6.4 seconds", [6.4]),
    ('<answer>{"Frame1": [[10, 20, 50, 60]]}</answer>', []),  # box coordinates are not times
    ("There are 3 dogs and 2 sounds.", []),
    ("version 2.5s3", []),
])
def test_times_are_found_in_model_text(text, expected):
    assert seconds_in(text) == expected


def test_mentions_point_at_their_characters():
    text = "Look at 1:05 now"
    (mention,) = find_timestamps(text)
    assert text[mention.start : mention.end] == "1:05"


def test_linkify_escapes_text_and_links_each_time():
    html = linkify("<think>beep at 12.5 s & 1:00\nthen</think>")
    assert html == ('&lt;think&gt;beep at <a href="seek:12.5">12.5 s</a> &amp; <a href="seek:60">1:00</a>'
                    "<br>then&lt;/think&gt;")
    assert seek_target("seek:12.5") == 12.5
    assert seek_target("https://example.org") is None
    assert seek_target("seek:nope") is None
