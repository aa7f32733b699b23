"""H.264 + AAC mp4 writer for generated videos (synthetic benchmarks, tests, clips).

Frames may carry their own presentation time, so variable-frame-rate files can be
written exactly. The file appears at its path only when `close()` succeeds: it is
written to a hidden temp file in the same folder and renamed, so a killed writer
never leaves a half-written video where a reader would pick it up.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.io import publish_temp

VIDEO_TIME_BASE = Fraction(1, 90000)
AAC_FRAME_SAMPLES = 1024


class VideoWriter:
    """Write RGB frames (and optional mono audio) to an mp4 file, atomically."""

    def __init__(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        fps: float = 25.0,
        *,
        audio_rate: int | None = 16000,
        codec: str = "libx264",
        gop: int | None = None,
        crf: int = 28,
        preset: str = "ultrafast",
    ) -> None:
        width, height = size
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"video size must be positive and even for yuv420p, got {width}x{height}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.size = (int(width), int(height))
        self.fps = float(fps)
        self.audio_rate = audio_rate
        self._frames_written = 0
        self._last_pts: int | None = None
        self._audio_buffer = np.zeros(0, dtype=np.float32)
        self._audio_samples_written = 0
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent)
        os.close(fd)
        self._tmp_path = Path(tmp)
        try:
            # faststart puts the index first: a file cut off in transit still opens and plays its start.
            self._container = av.open(
                str(self._tmp_path), mode="w", format="mp4", options={"movflags": "+faststart"}
            )
            self._video = self._add_video_stream(codec, gop, crf, preset)
            self._audio = self._add_audio_stream(audio_rate) if audio_rate else None
        except BaseException:
            self._tmp_path.unlink(missing_ok=True)
            raise

    def _add_video_stream(self, codec: str, gop: int | None, crf: int, preset: str) -> av.VideoStream:
        stream = self._container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(100000))
        stream.width, stream.height = self.size
        stream.pix_fmt = "yuv420p"
        stream.time_base = VIDEO_TIME_BASE
        stream.codec_context.time_base = VIDEO_TIME_BASE
        options = {"crf": str(crf), "preset": preset}
        if gop:
            # Fixed keyframe interval (no scene-cut keyframes) so seek costs are predictable.
            stream.codec_context.gop_size = gop
            options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0"
        stream.options = options
        return stream

    def _add_audio_stream(self, rate: int) -> av.AudioStream:
        stream = self._container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        stream.time_base = Fraction(1, rate)
        return stream

    def add_frame(self, rgb: np.ndarray, pts_seconds: float | None = None) -> None:
        """Append one RGB frame; `pts_seconds` (strictly increasing) gives variable frame rate."""
        self._check_open()
        expected = (self.size[1], self.size[0], 3)
        if rgb.shape != expected or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 of shape {expected}, got {rgb.dtype} {rgb.shape}")
        seconds = self._frames_written / self.fps if pts_seconds is None else float(pts_seconds)
        pts = round(seconds / VIDEO_TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f"frame times must increase: {seconds:.6f}s is not after the previous frame")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = pts
        frame.time_base = VIDEO_TIME_BASE
        self._mux(self._video.encode(frame))
        self._last_pts = pts
        self._frames_written += 1

    def add_audio(self, samples: np.ndarray) -> None:
        """Append mono float samples in [-1, 1] at `audio_rate`; may be called in chunks."""
        self._check_open()
        if self._audio is None:
            raise ValueError("this writer was created with audio_rate=None, it has no audio track")
        chunk = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
        self._audio_buffer = np.concatenate([self._audio_buffer, chunk])
        whole = len(self._audio_buffer) // AAC_FRAME_SAMPLES * AAC_FRAME_SAMPLES
        for offset in range(0, whole, AAC_FRAME_SAMPLES):
            self._encode_audio(self._audio_buffer[offset : offset + AAC_FRAME_SAMPLES])
        self._audio_buffer = self._audio_buffer[whole:]

    def _encode_audio(self, block: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(block[np.newaxis, :], format="fltp", layout="mono")
        frame.sample_rate = self.audio_rate
        frame.pts = self._audio_samples_written
        frame.time_base = Fraction(1, self.audio_rate)
        self._mux(self._audio.encode(frame))
        self._audio_samples_written += len(block)

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"writer for {self.path} is already closed")

    def close(self) -> None:
        """Flush encoders, finish the file and move it into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._audio is not None:
                if len(self._audio_buffer):
                    self._encode_audio(self._audio_buffer)
                self._mux(self._audio.encode(None))
            self._mux(self._video.encode(None))
            self._container.close()
            publish_temp(self._tmp_path, self.path)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        """Give up: close the container and delete the temp file; nothing appears at `path`."""
        if not self._closed:
            self._closed = True
            self._discard()

    def _discard(self) -> None:
        try:
            self._container.close()
        except Exception:  # the file is being thrown away; a failing close changes nothing
            pass
        self._tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
