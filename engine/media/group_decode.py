"""Wanted frames decoded group by group: one seek to a keyframe, then forward to the last wanted.

Shared by `sampling` (one container, FFmpeg frame threads) and `frame_share` (two processes).
Only wanted frames are converted to RGB; the rest are decoded (the later frames need them)
and dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from av.stream import Discard

from engine.media.color import frame_to_rgb
from engine.media.opening import open_container


@dataclass(frozen=True)
class KeyframeGroup:
    """Frames decoded from one keyframe: seek to `keyframe_pts`, decode up to the last of `targets`."""

    keyframe_pts: int
    targets: tuple[int, ...]  # presentation timestamps, ascending


def open_for_decoding(path: str | os.PathLike, threads: int) -> tuple[av.container.InputContainer, av.VideoStream]:
    """The container with every other stream discarded by the demuxer, and its video stream."""
    container = open_container(path)
    stream = container.streams.video[0]
    for other in container.streams:
        if other.index != stream.index:
            other.discard = Discard.all
    stream.thread_type, stream.thread_count = ("FRAME", threads) if threads > 1 else ("NONE", 1)
    return container, stream


def decode_group(container, stream, group: KeyframeGroup, store: Callable[[int, av.VideoFrame], None]) -> None:
    """Call `store(pts, frame)` for each wanted frame of `group` the decoder reaches.

    Frames no other frame is predicted from (non-reference B-frames) are skipped by the decoder
    unless wanted: skipping them changes no other frame. A packet without a timestamp is always
    decoded, as it might be a wanted frame."""
    wanted = set(group.targets)
    last = group.targets[-1]
    codec = stream.codec_context
    container.seek(group.keyframe_pts, stream=stream, backward=True, any_frame=False)
    skipping = None
    try:
        for packet in container.demux(stream):
            skip = packet.pts is not None and packet.pts not in wanted
            if skip != skipping:
                codec.skip_frame, skipping = ("NONREF" if skip else "DEFAULT"), skip
            for frame in codec.decode(packet):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts in wanted:
                    store(pts, frame)
                if pts is None or pts >= last:
                    return
    finally:
        codec.skip_frame = "DEFAULT"


def converted_size(size: tuple[int, int], max_pixels: int | None) -> tuple[int, int]:
    """(width, height) of the RGB frames: `size`, or shrunk to at most `max_pixels` (aspect kept, even)."""
    width, height = size
    if not max_pixels or width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def converter(size: tuple[int, int], max_pixels: int | None) -> Callable[[av.VideoFrame], np.ndarray]:
    """Decoded frame -> read-only RGB uint8 array of `converted_size`."""
    target = converted_size(size, max_pixels)
    if target == tuple(size):
        return read_only_rgb

    def shrink(frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.reformat(width=target[0], height=target[1], format="rgb24", interpolation="AREA").to_ndarray()
        rgb.flags.writeable = False
        return rgb

    return shrink


def read_only_rgb(frame: av.VideoFrame) -> np.ndarray:
    rgb = frame_to_rgb(frame)
    rgb.flags.writeable = False
    return rgb
