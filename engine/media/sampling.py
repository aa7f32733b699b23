"""Model inputs from a long video: exact frames at given indices and the audio of spans.

This is the hot path of long-video evaluation (50 frames + audio per item). Backends and the
trainer call only these functions, so the decoding strategy can change behind them.

Frames: the wanted frames are grouped by the keyframe each must be decoded from; each group is
one seek and one forward decode, in which frames nothing is predicted from are skipped unless
wanted, and only wanted frames are converted to RGB (group_decode.py). With two idle cores and
enough to decode, this process and a helper process share the groups (frame_share.py: Python
threads convoy on the GIL once per packet, processes do not); otherwise one decoder runs with
FFmpeg frame threads. `fast_seek=True` decodes only the keyframe nearest each wanted frame and
reports the index and true time of the frame it used.

Audio: FFmpeg reads and decodes the track itself (an `amovie` filter graph, the video track
never read), lays the samples on their timestamps (audio_timeline.py: the one implementation
`load_audio` uses too) and hands over 10 s blocks, which are resampled to the output rate in
the calling thread while the next blocks are decoded in another (both release the GIL). The
track is decoded in one pass, never split: decoders carry state from the start of the track
(AAC's noise substitution draws from a random generator), so a pass that starts at a seek
can differ from the whole-track pass wherever that state is used.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.media import frame_share
from engine.media.audio import audio_stream_of
from engine.media.audio_timeline import decode_timeline, to_rate
from engine.media.errors import EmptyVideoError
from engine.media.frame_index import FrameIndex, build_frame_index
from engine.media.group_decode import KeyframeGroup, converter, decode_group, open_for_decoding, read_only_rgb
from engine.media.opening import open_container, video_stream_of
from engine.media.video import SampledFrames, open_video

MODEL_AUDIO_RATE = 16000
MAX_WORKERS = 4
IDLE_SAMPLE_SECONDS = 0.05
AUDIO_BLOCK_SECONDS = 10.0
AUDIO_RESAMPLER_LEAD_SECONDS = 10.0  # resampler input before a span's first sample (state warms up)
AUDIO_DECODER_LEAD_SAMPLES = 4096  # lapped codecs rebuild their first samples from the frame before
MIN_PIPELINED_AUDIO_SECONDS = 60.0  # shorter spans decode in the calling thread (no idle-core check either)


def usable_cores() -> int:
    """The cores this process may run on, at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def idle_cores() -> int:
    """Usable cores that nothing else is using right now, at least 1.

    Measured over IDLE_SAMPLE_SECONDS from /proc/stat where there is one: the 1-minute load
    average lags by a minute and counts this process's own work of the last item, so during an
    evaluation it would keep reporting the machine busy. Elsewhere: cores minus that load."""
    cores = usable_cores()
    idle = _idle_fraction()
    if idle is not None:
        return max(1, min(cores, round(idle * (os.cpu_count() or 1))))
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, cores - int(load))


def _idle_fraction() -> float | None:
    """Share of all CPU time that was idle during a short sleep (None without /proc/stat)."""
    first = _cpu_times()
    if first is None:
        return None
    time.sleep(IDLE_SAMPLE_SECONDS)
    second = _cpu_times()
    if second is None:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return idle / total if total > 0 else None


def _cpu_times() -> tuple[int, int] | None:
    """(all, idle + iowait) clock ticks of the machine since boot."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]), fields[3] + fields[4]) if len(fields) >= 5 else None


# ----- frames -------------------------------------------------------------------------------------

SHARED_DECODE_MIN_PIXELS = 250_000_000  # frames x pixels to decode: below this a helper process costs more than it saves


def video_frame_count(path: str | os.PathLike) -> int:
    """Number of frames (from the frame table, which later sampling of the same file reuses)."""
    return _frame_table(Path(path))[0].frame_count


def nearest_keyframes(path: str | os.PathLike, indices: Sequence[int]) -> list[int]:
    """Each index snapped to its nearest keyframe: the frames `fast_seek` decodes, known before decoding
    so a prompt can state their true times."""
    table, _ = _frame_table(Path(path))
    return [_nearest_keyframe(table, min(max(int(i), 0), table.frame_count - 1)) for i in indices]


def sample_frames(
    path: str | os.PathLike,
    indices: Sequence[int],
    *,
    fast_seek: bool = False,
    max_pixels: int | None = None,
    workers: int | None = None,
) -> SampledFrames:
    """RGB frames at `indices` (in the given order) with their true presentation times.

    Exact by default: frame `i` equals `Video.frame(i)`. `fast_seek=True` snaps each index to
    the nearest keyframe and decodes only that; the result's `indices` and `times` are those of
    the frames actually used (put these times in a prompt, not the requested ones).
    `max_pixels` shrinks frames larger than that (aspect kept, even sizes) while converting.
    `workers`: the number of decoder threads of one decoder. Default: when two cores are idle
    and there is enough to decode, this process and a helper process share the groups
    (frame_share.py); otherwise one decoder with a thread per usable core (at most 4).
    """
    path = Path(path)
    table, size = _frame_table(path)
    wanted = [min(max(int(i), 0), table.frame_count - 1) for i in indices]
    if fast_seek:
        wanted = [_nearest_keyframe(table, i) for i in wanted]
    groups = _groups(table, sorted(set(wanted)))
    convert = converter(size, max_pixels)
    if fast_seek:
        decoded = _decode_keyframes(path, table, convert, groups, workers or idle_cores())
    elif workers is None and _worth_sharing(table, groups, size):
        by_pts = frame_share.decode_in_two_processes(path, groups, size, max_pixels)
        decoded = {table.index_of_pts(pts): frame for pts, frame in by_pts.items()}
    else:
        decoded = _decode_groups(path, table, convert, groups, workers or usable_cores())
    missing = [i for i in sorted(set(wanted)) if i not in decoded]
    if missing:  # a seek that did not land where the table says: the frame-accurate reader settles it
        decoded.update(_decode_with_video(path, missing, convert))
    return SampledFrames(
        indices=np.asarray(wanted, dtype=np.int64),
        times=table.times[wanted],
        frames=[decoded[i] for i in wanted],
    )


def _worth_sharing(table: FrameIndex, groups: list[KeyframeGroup], size: tuple[int, int]) -> bool:
    """Two idle cores, two groups at least, and enough decoding for a helper process to pay off."""
    if len(groups) < 2 or not frame_share.available():
        return False
    frames = sum(table.index_of_pts(g.targets[-1]) - table.index_of_pts(g.keyframe_pts) + 1 for g in groups)
    return frames * size[0] * size[1] >= SHARED_DECODE_MIN_PIXELS and idle_cores() >= 2  # the last costs 50 ms


def _frame_table(path: Path) -> tuple[FrameIndex, tuple[int, int]]:
    container = open_container(path)
    try:
        stream = video_stream_of(container, path)
        table = build_frame_index(container, stream, path)
        size = (stream.codec_context.width, stream.codec_context.height)
    finally:
        container.close()
    if table.frame_count == 0:
        raise EmptyVideoError(f"{path.name} has a video track with no frames")
    return table, size


def _nearest_keyframe(table: FrameIndex, index: int) -> int:
    keys = table.keyframe_indices
    if len(keys) == 0:
        return 0
    position = int(np.searchsorted(keys, index))
    candidates = [int(keys[p]) for p in (position - 1, position) if 0 <= p < len(keys)]
    return min(candidates, key=lambda key: (abs(key - index), key))


def _groups(table: FrameIndex, targets: list[int]) -> list[KeyframeGroup]:
    """Wanted frames grouped by the keyframe each is decoded from (in pts), in file order."""
    by_key: dict[int, list[int]] = {}
    for index in targets:
        by_key.setdefault(table.keyframe_at_or_before(index), []).append(int(table.pts[index]))
    return [KeyframeGroup(int(table.pts[key]), tuple(found)) for key, found in sorted(by_key.items())]


def _decode_groups(
    path: Path, table: FrameIndex, convert: Callable, groups: list[KeyframeGroup], threads: int
) -> dict[int, np.ndarray]:
    """Decode each group from its keyframe in one container; frames a seek missed are left out."""
    found: dict[int, np.ndarray] = {}

    def store(pts: int, frame: av.VideoFrame) -> None:
        found[table.index_of_pts(pts)] = convert(frame)

    container, stream = open_for_decoding(path, threads)
    try:
        for group in groups:
            decode_group(container, stream, group, store)
    except av.error.FFmpegError:
        pass  # a damaged stretch: whatever is missing goes to the frame-accurate reader, which reports it
    finally:
        container.close()
    return found


def _decode_keyframes(
    path: Path, table: FrameIndex, convert: Callable, groups: list[KeyframeGroup], containers: int
) -> dict[int, np.ndarray]:
    """Keyframes only: frame threads would only add latency, so contiguous shares of the keyframes
    go to single-threaded decoders in their own containers (each decode is long enough, about
    10 ms at 720p, that the threads rarely wait for the GIL)."""
    count = max(1, min(containers, len(groups)))
    shares = [groups[len(groups) * k // count : len(groups) * (k + 1) // count] for k in range(count)]
    if count == 1:
        return _decode_groups(path, table, convert, groups, 1)
    found: dict[int, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="media-keyframes") as pool:
        for part in pool.map(lambda share: _decode_groups(path, table, convert, share, 1), shares):
            found.update(part)
    return found


def _decode_with_video(path: Path, indices: list[int], convert: Callable) -> dict[int, np.ndarray]:
    with open_video(path, read_ahead=0, cache_mb=1) as video:
        frames = video._frames_by_index(indices)
    if convert is read_only_rgb:
        return dict(zip(indices, frames, strict=True))
    return {i: convert(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24"))
            for i, f in zip(indices, frames, strict=True)}


# ----- audio --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AudioPlan:
    path: Path
    source_rate: int
    time_base: Fraction | None
    file_start: float  # the container's start time (s): FFmpeg's seek point counts from it
    rate: int
    grid: int  # input samples between points where the input and output sample grids meet
    first: int  # output sample (at `rate`, from time 0) of `start`
    count: int  # output samples wanted (fewer come back at the end of the track)


def sample_audio(
    path: str | os.PathLike,
    start: float,
    end: float | None,
    sample_rate: int = MODEL_AUDIO_RATE,
    *,
    workers: int | None = None,
) -> np.ndarray:
    """Mono float32 audio of [start, end] s at `sample_rate` (to the end of the track if `end`
    is None or past it), laid on the track's timestamps as `load_audio` lays it; NoAudioError
    when the file has none. For spans of a minute or more, `workers` >= 2 (default: when two
    cores are idle) decodes in one thread and resamples in another; the samples are the same."""
    path = Path(path)
    container = open_container(path)
    try:
        stream = audio_stream_of(container, path)
        source_rate, time_base = stream.sample_rate, stream.time_base
        track_end = _track_seconds(container, stream)
        file_start = (container.start_time or 0) / av.time_base
    finally:
        container.close()
    start = max(0.0, float(start))
    stop = track_end + 1.0 if end is None else min(float(end), track_end + 1.0)
    rate = int(sample_rate)
    plan = _AudioPlan(path, source_rate, Fraction(time_base) if time_base else None, file_start, rate,
                      source_rate // math.gcd(source_rate, rate), round(start * rate),
                      max(0, round((stop - start) * rate)))
    out = np.zeros(plan.count, dtype=np.float32)
    pipelined = stop - start >= MIN_PIPELINED_AUDIO_SECONDS and (workers or idle_cores()) >= 2
    return out[: _decode_audio(plan, out, pipelined) - plan.first]


def _track_seconds(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float((stream.duration + (stream.start_time or 0)) * stream.time_base)
    return (container.duration or 0) / av.time_base


def _decode_audio(plan: _AudioPlan, out: np.ndarray, pipelined: bool) -> int:
    """Fill `out` (output samples plan.first onwards); returns the output sample reached.

    The output resampler starts at a point of the shared sample grid 10 s before `start` (the
    track's start when that is nearer), so from `start` on it is in the state a pass over the
    whole track has there. The decoder starts a little earlier still (lapped codecs rebuild a
    frame from the one before). If that seek did not land before the feed point (or the feed
    point lies in a gap of the track), decoding starts again from the start of the file."""
    lead = round(AUDIO_RESAMPLER_LEAD_SECONDS * plan.source_rate) // plan.grid * plan.grid
    feed_from = max(0, (plan.first * plan.source_rate // plan.rate) // plan.grid * plan.grid - lead)
    seek = max(0.0, (feed_from - AUDIO_DECODER_LEAD_SAMPLES) / plan.source_rate - plan.file_start - 1.0)
    reached = _fill_audio(plan, out, seek, feed_from, pipelined)
    if reached is None:
        reached = _fill_audio(plan, out, 0.0, feed_from, pipelined)
    return reached if reached is not None else plan.first


def _fill_audio(plan: _AudioPlan, out: np.ndarray, seek: float, feed_from: int, pipelined: bool) -> int | None:
    """One decoding pass; None when a seek landed past `feed_from` (nothing is written then)."""
    blocks = decode_timeline(plan.path, plan.source_rate, plan.time_base, seek_seconds=seek, from_pts=feed_from,
                             block=round(AUDIO_BLOCK_SECONDS * plan.source_rate))
    first, last = plan.first, plan.first + plan.count
    resampler = to_rate(plan.rate)
    position = first
    with _in_background(blocks) if pipelined else contextlib.nullcontext(blocks) as source:
        for index, block in enumerate(itertools.chain(source, [None])):
            if index == 0 and seek > 0 and (block is None or block.pts != feed_from):
                return None
            for frame in resampler.resample(block):
                at = frame.pts if frame.pts is not None else position
                samples = frame.to_ndarray().reshape(-1)
                lo, hi = max(at, first), min(at + len(samples), last)
                if hi > lo:
                    out[lo - first : hi - first] = samples[lo - at : hi - at]
                position = at + len(samples)
            if position >= last:
                break
    return min(max(position, first), last)


@contextlib.contextmanager
def _in_background(items: Iterator, depth: int = 3):
    """Iterate `items` in a helper thread, `depth` items ahead of the consumer (a pipeline stage)."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((done, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            handoff.put((done, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # a generator stopped early frees what it holds (here: FFmpeg's graph) now

    def consume() -> Iterator:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item

    worker = threading.Thread(target=produce, name="media-audio-decode", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        while worker.is_alive():
            try:
                handoff.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
