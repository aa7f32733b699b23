"""Waveform envelopes of media files, cached on disk so reopening a long file is instant.

The cache key is the file's identity (resolved path, size, mtime) plus the
envelope settings; a file edited in place gets a new key. The cache folder is
`cache_dir`, else $AVR_CACHE_DIR, else platformdirs' user cache dir for "avr-studio".
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs

from engine.io import publish_temp
from engine.media.audio import DEFAULT_RATE, AudioStream
from engine.media.envelope import DEFAULT_BASE_BUCKET, EnvelopePyramid
from engine.media.errors import NoAudioError, VideoNotFoundError

CACHE_ENV_VAR = "AVR_CACHE_DIR"
CACHE_FORMAT_VERSION = 1
DECODE_BLOCK_SECONDS = 60.0


def media_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where envelopes live: the argument, else $AVR_CACHE_DIR, else the user cache dir."""
    if cache_dir is not None:
        return Path(cache_dir)
    from_env = os.environ.get(CACHE_ENV_VAR)
    return Path(from_env) if from_env else Path(platformdirs.user_cache_dir("avr-studio"))


def envelope_cache_path(
    path: str | os.PathLike, sr: int = DEFAULT_RATE, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Cache file for this media file's current identity (path, size, mtime) and settings."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    identity = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}|{sr}|{DEFAULT_BASE_BUCKET}|{CACHE_FORMAT_VERSION}"
    key = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
    return media_cache_dir(cache_dir) / "envelopes" / f"{key}.npz"


def load_envelope(
    path: str | os.PathLike, *, sr: int = DEFAULT_RATE, cache_dir: str | os.PathLike | None = None
) -> EnvelopePyramid | None:
    """Envelope of the file's audio (from the cache when possible); None when it has no audio track."""
    if not Path(path).is_file():
        raise VideoNotFoundError(f"media file not found: {path}")
    cached = envelope_cache_path(path, sr, cache_dir)
    if cached.is_file():
        try:
            return EnvelopePyramid.load(cached)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache entry is rebuilt, never trusted
    try:
        pyramid = _build_from_file(path, sr)
    except NoAudioError:
        return None
    _save_atomic(pyramid, cached)
    return pyramid


def _build_from_file(path: str | os.PathLike, sr: int) -> EnvelopePyramid:
    with AudioStream(path, sr) as stream:
        return EnvelopePyramid.build_from_blocks(_blocks(stream), sr)


def _blocks(stream: AudioStream):
    start = 0.0
    while True:
        block = stream.read(start, DECODE_BLOCK_SECONDS)
        if len(block) == 0:
            return
        yield block
        start += len(block) / stream.sample_rate
        if len(block) < round(DECODE_BLOCK_SECONDS * stream.sample_rate):
            return


def _save_atomic(pyramid: EnvelopePyramid, target: Path) -> None:
    """Write beside the target and rename; an unwritable cache only costs a rebuild next time."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".envelope.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        try:
            pyramid.save(tmp)
            publish_temp(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass
