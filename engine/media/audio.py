"""Decoded, resampled mono audio: whole-file loads and a seekable block reader for playback.

Decoding goes through PyAV and the conversion through `audio_timeline.FrameConverter`
(FFmpeg's swresample), which lays every decoded frame on its timestamp (overlaps at the joins
of concatenated files trimmed, gaps filled with silence) before resampling, exactly as
`sampling.sample_audio` does. Sample positions come from the converter's output timestamps, so
a block read at `start` begins at that time to within the resampler's filter delay (about 1 ms).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from engine.media.audio_timeline import FrameConverter
from engine.media.errors import MediaError, NoAudioError
from engine.media.opening import open_container

DEFAULT_RATE = 16000
CONTIGUOUS_READ_SLACK_SECONDS = 0.5
# Lapped codecs (AAC, MP3, Opus) need the frame before a seek point to rebuild its first samples.
SEEK_PREROLL_SECONDS = 0.2


def audio_stream_of(container: av.container.InputContainer, path: str | os.PathLike) -> av.AudioStream:
    """First audio stream; NoAudioError (the video may still be fine) if there is none."""
    if not container.streams.audio:
        raise NoAudioError(f"{Path(path).name} has no audio track")
    return container.streams.audio[0]


class AudioStream:
    """Reads mono float32 blocks at `sr` from any time; sequential reads continue without seeking.

    Thread-safe: a player thread and a waveform loader may share one instance.
    """

    def __init__(self, path: str | os.PathLike, sr: int | None = DEFAULT_RATE) -> None:
        """`sr=None` keeps the track's own sample rate."""
        self.path = Path(path)
        self._container = open_container(self.path)
        try:
            self._stream = audio_stream_of(self._container, self.path)
        except BaseException:
            self._container.close()
            raise
        self.source_rate: int = self._stream.sample_rate
        self.sample_rate = int(sr) if sr else self.source_rate
        self.duration = _audio_duration(self._container, self._stream)
        self._lock = threading.Lock()
        self._frames: Iterator[av.AudioFrame] | None = None
        self._converter: FrameConverter | None = None
        self._buffer = np.zeros(0, dtype=np.float32)
        self._pending: list[np.ndarray] = []
        self._buffer_start = 0
        self._buffer_end = 0
        self._at_end = False
        self._closed = False

    def read(self, start: float, seconds: float) -> np.ndarray:
        """`seconds` of audio from `start` (shorter only at the end of the track)."""
        first = max(0, round(start * self.sample_rate))
        count = max(0, round(seconds * self.sample_rate))
        with self._lock:
            if self._closed:
                raise MediaError(f"audio of {self.path.name} is closed")
            if not self._is_contiguous(first):
                self._seek(first)
            while self._buffer_end < first + count and not self._at_end:
                self._decode_next_frame()
            return self._take(first, count)

    def read_all(self, start: float = 0.0) -> np.ndarray:
        """Everything from `start` to the end of the track."""
        remaining = max(0.0, self.duration - start) + 1.0  # the container's duration may round down
        return self.read(start, remaining)

    def _is_contiguous(self, first: int) -> bool:
        slack = round(CONTIGUOUS_READ_SLACK_SECONDS * self.sample_rate)
        return self._frames is not None and self._buffer_start <= first <= self._buffer_end + slack

    def _seek(self, first: int) -> None:
        seconds = max(0.0, first / self.sample_rate - SEEK_PREROLL_SECONDS)
        if seconds > 0 or self._frames is not None:
            # Not before the first read from the start: an explicit seek to 0 makes the decoder
            # start without the encoder-delay trimming an opened file gets (a few ms differ).
            target = int(seconds / self._stream.time_base) + (self._stream.start_time or 0)
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._decoded_frames()
        self._converter = FrameConverter(self.sample_rate)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._pending = []
        self._buffer_start = self._buffer_end = -1
        self._at_end = False

    def _decoded_frames(self) -> Iterator[av.AudioFrame]:
        """Frames from the container's position. A packet the decoder rejects is skipped (its time
        becomes silence on the timeline, as in `sample_audio`); a demuxing error is the decodable
        end of a truncated file."""
        codec = self._stream.codec_context
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = codec.decode(packet)
                except av.error.FFmpegError:
                    continue
                yield from frames
        except av.error.FFmpegError:
            return

    def _decode_next_frame(self) -> None:
        try:
            frame = next(self._frames)
        except StopIteration:
            # End of track (or of the decodable part): flush what the converter holds.
            self._append(self._converter.convert(None))
            self._at_end = True
            return
        self._append(self._converter.convert(frame))

    def _append(self, frames: list[av.AudioFrame]) -> None:
        """The converter's frames are contiguous (it lays them on the timeline): only the first
        one after a seek says where the buffer starts."""
        for frame in frames:
            samples = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
            if self._buffer_start < 0:
                self._buffer_start = self._buffer_end = frame.pts if frame.pts is not None else 0
            self._pending.append(samples)
            self._buffer_end += len(samples)

    def _take(self, first: int, count: int) -> np.ndarray:
        """Copy [first, first+count) out of the buffer and drop everything before `first`."""
        if self._pending:
            self._buffer = np.concatenate([self._buffer, *self._pending])
            self._pending = []
        if self._buffer_start < 0:
            return np.zeros(0, dtype=np.float32)
        if first < self._buffer_start:  # only if a seek landed late: the missing head is silence
            self._buffer = np.concatenate([np.zeros(self._buffer_start - first, dtype=np.float32), self._buffer])
            self._buffer_start = first
        offset = first - self._buffer_start
        block = self._buffer[offset : offset + count].copy()
        self._buffer = self._buffer[offset:]
        self._buffer_start = first
        return block

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._frames = None
                self._container.close()

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def _audio_duration(container: av.container.InputContainer, stream: av.AudioStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return (container.duration or 0) / av.time_base


def load_audio(
    path: str | os.PathLike, sr: int = DEFAULT_RATE, start: float | None = None, end: float | None = None
) -> np.ndarray:
    """Mono float32 samples at `sr` of [start, end] (whole track by default). NoAudioError if none."""
    with AudioStream(path, sr) as stream:
        begin = 0.0 if start is None else max(0.0, float(start))
        if end is None:
            return stream.read_all(begin)
        return stream.read(begin, max(0.0, float(end) - begin))


def read_audio_block(path: str | os.PathLike, start: float, seconds: float, sr: int = DEFAULT_RATE) -> np.ndarray:
    """One block of mono audio; for repeated reads keep an `AudioStream` open instead."""
    with AudioStream(path, sr) as stream:
        return stream.read(start, seconds)
