"""Decoded audio laid on its own timestamps, then converted to mono float32 at a given rate.

Files joined without re-encoding carry audio frames whose timestamps overlap the samples the
previous frame decoded to, or leave a gap after them (the 60-minute benchmark video: 80 source
samples of overlap at each of its 11 joins). Every audio reader here places samples by
timestamp, and in one place: FFmpeg's swresample with timestamp compensation (`aresample`
with `async`, trimming and filling only, never stretching) at the source rate, before the
conversion to the output rate. So the output resampler sees the true timeline: an overlap is
trimmed from the later frame's head, a gap becomes silence. A difference smaller than half a
time-base tick is rounding (a millisecond time base cannot say to the sample where an AAC
frame starts) and is left alone.

Two sources feed the same filters (`_timeline_filters`, then the conversion to the output
rate): `FrameConverter` takes frames decoded in Python (the playback reader, which seeks and
reads small blocks), and `decode_timeline` lets FFmpeg read and decode the file itself
(`amovie`), so a long track crosses into Python in 10 s blocks instead of one call per
1024-sample frame, and each pull releases the GIL.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from fractions import Fraction

import av
from av.filter import Graph

from engine.media.errors import MediaError

COMPENSATION_OPTIONS = {"async": "1"}  # trim and fill only: no soft (stretching) compensation
MAX_DECODE_ERRORS_IN_A_ROW = 10_000  # then the file is unreadable from there on (a read error repeating)


def _timeline_filters(graph: Graph, source_rate: int, time_base: Fraction | None) -> list:
    """Samples laid on their timestamps, as mono float32 at the source rate (no resampling yet)."""
    tick = float(time_base) if time_base else 1.0 / source_rate
    tolerance = f"{max(0.5 / source_rate, 0.5 * tick * (1 + 1e-6)):.12g}"
    return [
        graph.add("aresample", **COMPENSATION_OPTIONS, min_comp=tolerance, min_hard_comp=tolerance),
        graph.add("aformat", sample_fmts="flt", channel_layouts="mono", sample_rates=str(source_rate)),
    ]


def to_rate(rate: int) -> av.AudioResampler:
    """The conversion of laid-out samples to `rate` (timestamps in output samples)."""
    return av.AudioResampler(format="flt", layout="mono", rate=int(rate))


def _link(nodes: list) -> None:
    for upstream, downstream in zip(nodes, nodes[1:], strict=False):
        upstream.link_to(downstream)


class FrameConverter:
    """Decoded frames in, mono float32 frames at `rate` out, laid on the input timestamps.

    Output timestamps count samples at `rate`. A drop-in for `av.AudioResampler.resample`.
    """

    def __init__(self, rate: int) -> None:
        self.rate = int(rate)
        self._graph: Graph | None = None
        self._sink = None

    def convert(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        """Push one frame (None: end of input, flush) and return the frames that are ready."""
        if self._graph is None:
            if frame is None:
                return []
            self._build(frame)
        self._graph.push(frame)
        return list(_ready_frames(self._sink))

    def _build(self, template: av.AudioFrame) -> None:
        graph = Graph()
        extra = {"time_base": str(template.time_base)} if template.time_base is not None else {}
        source = graph.add("abuffer", sample_rate=str(template.sample_rate), sample_fmt=template.format.name,
                           channel_layout=template.layout.name, **extra)
        nodes = [source, *_timeline_filters(graph, template.sample_rate, template.time_base),
                 graph.add("aformat", sample_fmts="flt", channel_layouts="mono", sample_rates=str(self.rate)),
                 graph.add("abuffersink")]
        _link(nodes)
        graph.configure()
        self._graph, self._sink = graph, nodes[-1]


def _ready_frames(sink) -> Iterator[av.AudioFrame]:
    while True:
        try:
            yield sink.pull()
        except EOFError:
            return
        except av.error.FFmpegError as error:
            if error.errno != errno.EAGAIN:  # anything but "needs more input"
                raise
            return


def decode_timeline(
    path: str | os.PathLike, source_rate: int, time_base: Fraction | None, *,
    seek_seconds: float = 0.0, from_pts: int = 0, block: int = 0,
) -> Iterator[av.AudioFrame]:
    """The first audio track of `path`, decoded by FFmpeg and laid on its timestamps from source
    sample `from_pts` on, as mono float32 frames at the source rate of `block` samples (the last
    one shorter; timestamps count source samples). Convert them with `to_rate`.

    `seek_seconds` (from the start of the file) is where decoding starts; it must lie far enough
    before `from_pts` for the decoder to warm up. Packets the decoder rejects are skipped, and a
    file cut short ends where its data ends, as in `AudioStream`.
    """
    graph = Graph()
    options = {"filename": os.path.abspath(path), "streams": "a:0"}  # absolute: never read as "proto:..."
    if seek_seconds > 0:
        options["sp"] = f"{seek_seconds:.6f}"
    try:
        nodes = [graph.add("amovie", **options), *_timeline_filters(graph, source_rate, time_base),
                 graph.add("atrim", start_pts=str(int(from_pts)))]
        if block:
            nodes.append(graph.add("asetnsamples", n=str(int(block)), p="0"))
        nodes.append(graph.add("abuffersink"))
        _link(nodes)
        graph.configure()
    except av.error.FFmpegError as error:
        raise MediaError(f"FFmpeg cannot decode the audio track of {os.path.basename(path)}: {error}") from error
    sink = nodes[-1]
    errors = 0
    while errors < MAX_DECODE_ERRORS_IN_A_ROW:
        try:
            frame = sink.pull()
        except EOFError:
            return
        except av.error.FFmpegError:
            errors += 1  # a packet the decoder rejected (skipped: its time becomes silence) or a cut-off end
            continue
        errors = 0
        yield frame
