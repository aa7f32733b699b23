"""Exact frames decoded by two processes at once, written into one shared buffer.

The wanted frames come in groups, one keyframe each (see group_decode.py). This process takes
groups from the front, a helper process (`python -m engine.media.frame_share`) from the back;
each claims a group in the buffer's header before decoding it, so they meet wherever the work
splits evenly, whatever the helper's start-up time or the load on either core. A group both
happen to claim at the same moment is decoded twice, into identical bytes. Whatever the helper
did not finish (it could not start, crashed or hung) is decoded here afterwards, so the result
never depends on it: the frames are those one decoder gives, bit for bit.

Why a process and not a thread: PyAV hands the GIL over several times per packet, and on a
loaded machine every hand-over waits for the scheduler; two decoding threads were two to three
times slower than one there (docs/media-performance.md). Two processes share nothing but the
buffer. The buffer is an anonymous shared memory file (Linux `memfd`) handed to the helper as
a file descriptor, so nothing is left behind if either process dies; elsewhere this module
is not used and the caller decodes in one process.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import numpy as np

from engine.media.group_decode import (
    KeyframeGroup,
    converted_size,
    converter,
    decode_group,
    open_for_decoding,
)

HEADER_ALIGN = 4096
FREE, OURS, HELPERS = 0, 1, 2
HELPER_GRACE_SECONDS = 30.0  # after our share: how long the helper may take to finish its current group


def available() -> bool:
    """Whether this platform can share a buffer with a helper process this way."""
    return hasattr(os, "memfd_create")


def decode_in_two_processes(
    path: str | os.PathLike, groups: list[KeyframeGroup], size: tuple[int, int], max_pixels: int | None
) -> dict[int, np.ndarray]:
    """RGB frame (read-only view into the shared buffer) per wanted pts; frames a seek missed are absent."""
    slots = {pts: slot for slot, pts in enumerate(sorted({p for group in groups for p in group.targets}))}
    width, height = converted_size(size, max_pixels)
    layout = _Layout(len(groups), len(slots), (height, width, 3))
    fd = os.memfd_create("avr-frames", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, layout.total)
        buffer = mmap.mmap(fd, layout.total)
        helper = _start_helper(fd, path, groups, slots, size, max_pixels, layout)
    finally:
        os.close(fd)
    claims, done, written, frames = layout.views(buffer)
    try:
        with _Decoder(path, size, max_pixels, slots, frames, written) as decoder:
            try:
                _work_through(range(len(groups)), claims, done, OURS, lambda g: decoder.decode(groups[g]))
            except av.error.FFmpegError:
                pass  # a damaged stretch: what is missing goes to the frame-accurate reader, which reports it
            _wait_for(helper)
            try:
                for g in range(len(groups)):
                    if not done[g]:  # the helper's unfinished share
                        decoder.decode(groups[g])
                        done[g] = 1
            except av.error.FFmpegError:
                pass
    finally:
        if helper is not None and helper.poll() is None:
            helper.kill()
            helper.wait()
    return {pts: _read_only(frames[slot]) for pts, slot in slots.items() if written[slot]}


class _Layout:
    """Header (claim byte and done byte per group, written-flag per slot), then the frames."""

    def __init__(self, groups: int, slots: int, shape: tuple[int, int, int]) -> None:
        self.groups, self.slots, self.shape = groups, slots, shape
        self.header = -(-(2 * groups + slots) // HEADER_ALIGN) * HEADER_ALIGN
        self.frame_bytes = int(np.prod(shape))
        self.total = self.header + slots * self.frame_bytes

    def views(self, buffer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(claims, done per group; written per slot; the frames) over the shared buffer."""
        head = np.frombuffer(buffer, dtype=np.uint8, count=2 * self.groups + self.slots)
        frames = np.frombuffer(buffer, dtype=np.uint8, offset=self.header, count=self.slots * self.frame_bytes)
        groups = self.groups
        return head[:groups], head[groups : 2 * groups], head[2 * groups :], frames.reshape(self.slots, *self.shape)

    def as_dict(self) -> dict:
        return {"groups": self.groups, "slots": self.slots, "shape": list(self.shape)}


class _Decoder:
    """One single-threaded decoder writing wanted frames into their slots."""

    def __init__(self, path, size, max_pixels, slots: dict[int, int], frames: np.ndarray, written) -> None:
        self._container, self._stream = open_for_decoding(path, threads=1)
        self._convert = converter(size, max_pixels)
        self._slots, self._frames, self._written = slots, frames, written

    def decode(self, group: KeyframeGroup) -> None:
        decode_group(self._container, self._stream, group, self._store)

    def _store(self, pts: int, frame) -> None:
        slot = self._slots[pts]
        self._frames[slot] = self._convert(frame)
        self._written[slot] = 1

    def __enter__(self) -> _Decoder:
        return self

    def __exit__(self, *exc) -> None:
        self._container.close()


def _work_through(order: Iterable[int], claims: np.ndarray, done: np.ndarray, me: int,
                  decode: Callable[[int], None]) -> None:
    """Decode groups in `order` until one is already claimed (the other process got there first)."""
    for g in order:
        if claims[g] != FREE:
            return
        claims[g] = me
        decode(g)
        done[g] = 1


def _start_helper(fd: int, path, groups, slots, size, max_pixels, layout: _Layout) -> subprocess.Popen | None:
    job = {"fd": fd, "path": os.path.abspath(path), "size": list(size), "max_pixels": max_pixels,
           "layout": layout.as_dict(), "groups": [[g.keyframe_pts, list(g.targets)] for g in groups],
           "slots": [[pts, slot] for pts, slot in slots.items()]}
    engine_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([engine_root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    try:
        # Run from the engine's own root: `-m` puts the working folder first on sys.path, and this
        # process's engine (not some other checkout's) must decode the other half.
        helper = subprocess.Popen(_helper_command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, pass_fds=(fd,), env=env, cwd=engine_root)
        helper.stdin.write(json.dumps(job).encode())
        helper.stdin.close()
    except OSError:
        return None  # no helper: this process decodes every group
    return helper


def _helper_command() -> list[str]:
    return [sys.executable, "-m", "engine.media.frame_share"]


def _wait_for(helper: subprocess.Popen | None) -> None:
    if helper is None:
        return
    try:
        helper.wait(timeout=HELPER_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()


def _read_only(frame: np.ndarray) -> np.ndarray:
    frame.flags.writeable = False
    return frame


def _helper_main() -> int:
    """The helper: groups from the back, into the buffer handed over as a file descriptor."""
    job = json.loads(sys.stdin.read())
    spec = job["layout"]
    layout = _Layout(spec["groups"], spec["slots"], tuple(spec["shape"]))
    buffer = mmap.mmap(job["fd"], layout.total)
    claims, done, written, frames = layout.views(buffer)
    groups = [KeyframeGroup(key, tuple(targets)) for key, targets in job["groups"]]
    slots = {pts: slot for pts, slot in job["slots"]}
    with _Decoder(job["path"], tuple(job["size"]), job["max_pixels"], slots, frames, written) as decoder:
        _work_through(reversed(range(len(groups))), claims, done, HELPERS, lambda g: decoder.decode(groups[g]))
    return 0


if __name__ == "__main__":
    raise SystemExit(_helper_main())
