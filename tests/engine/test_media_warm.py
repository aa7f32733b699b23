"""Background decoding that gives way: `Video.warm` (prefetch into the cache, one frame per hold of the
decoder lock) and `frame(read_ahead=False)` (a jump that starts no read-ahead)."""

from __future__ import annotations

import threading
import time

import pytest

from engine.media import open_video
from tests.engine.media_fixtures import decode_index, write_cfr_video

FRAMES = 300
GOP = 100


@pytest.fixture(scope="module")
def video_path(tmp_path_factory):
    return write_cfr_video(tmp_path_factory.mktemp("warm") / "warm.mp4", FRAMES, gop=GOP)


def test_warm_decodes_the_exact_frame_into_the_cache(video_path):
    with open_video(video_path, read_ahead=0) as video:
        for index in (GOP - 1, 2 * GOP + 37, 5):  # the end of a GOP, a later GOP, back to the first
            assert not video.is_cached(index)
            assert video.warm(index) is True
            assert video.is_cached(index)
            assert decode_index(video.frame(index)) == index


def test_warm_stops_when_asked_and_goes_on_later(video_path):
    with open_video(video_path, read_ahead=0) as video:
        steps = []
        assert video.warm(GOP - 1, should_stop=lambda: steps.append(1) or len(steps) > 10) is False
        assert not video.is_cached(GOP - 1)  # 10 frames decoded, not yet the 99th
        assert video.warm(GOP - 1) is True  # goes on from there
        assert decode_index(video.frame(GOP - 1)) == GOP - 1


def test_warm_gives_way_to_a_waiting_frame_request(video_path):
    """While a foreground `frame()` waits for the decoder, a warm in progress returns at once."""
    with open_video(video_path, read_ahead=0) as video:
        video._count_waiting(+1)  # a foreground request is waiting for the decoder lock
        try:
            assert video.warm(GOP - 1) is False
            assert not video.is_cached(GOP - 1)
        finally:
            video._count_waiting(-1)
        result = {}
        warm = threading.Thread(target=lambda: result.update(done=video.warm(FRAMES - 1)))
        warm.start()
        frame = video.frame(GOP // 2)  # the foreground gets its frame while the warm runs
        warm.join(10)
        assert decode_index(frame) == GOP // 2
        assert not warm.is_alive()
        assert video.warm(FRAMES - 1) is True and decode_index(video.frame(FRAMES - 1)) == FRAMES - 1


def test_a_jump_starts_no_read_ahead(video_path):
    with open_video(video_path, read_ahead=8) as video:
        video.frame(40, read_ahead=False)
        time.sleep(0.5)
        assert not any(video.is_cached(i) for i in range(41, 49))
        video.frame(41)  # a sequential request reads ahead as before
        deadline = time.monotonic() + 5
        while not video.is_cached(48) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert video.is_cached(48)
