"""Inference speed.

`--part openai`: the `openai` backend against real HTTP servers on 127.0.0.1 (the test
chat-completions server, tests/engine/chat_server.py), through the same concurrent runner
`avr infer` uses (engine.runs.concurrent):
  1. one server answering every request in 200 ms: concurrency 8 vs 1 (goal >= 6x);
  2. servers that serve at most 4 requests at once, 200 ms each (a GPU server's batch):
     requests/s against two servers vs one, at concurrency 16.
Requests are text-only so the figure is the client's (HTTP, streaming, threads), not JPEG
encoding; `--frames N` adds N 320x240 frames per request to show that cost too.

    python benchmarks/bench_infer.py --part openai [--items 48] [--frames 0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.backends.base import ModelRequest, create_backend  # noqa: E402
from engine.runs.concurrent import answer_concurrently  # noqa: E402
from tests.engine.chat_server import ChatServer  # noqa: E402

ANSWER = "<think>I hear four barks and see four dogs.</think><answer>4</answer>"


def _requests(count: int, video: str, frames: int) -> list[ModelRequest]:
    segments: list[tuple] = [("text", "How many dogs bark?")]
    segments += [("frame", i) for i in range(frames)]
    return [ModelRequest(index=i, video_path=video, protocol="long", reasoning="thinking", category="object",
                         system_prompt="", segments=tuple(segments), frame_indices=tuple(range(0, 4 * frames, 4)),
                         frame_times=tuple(t * 0.16 for t in range(frames)), frames_as="images")
            for i in range(count)]


def _rate(urls: list[str], requests: list[ModelRequest], concurrency: int) -> float:
    """Requests per second, all answered in full (checked)."""
    backend = create_backend("openai", url=urls, model="bench", concurrency=concurrency)
    start = time.perf_counter()
    answers = list(answer_concurrently(requests, lambda r, stop: "".join(backend.generate(r, stop)), concurrency))
    elapsed = time.perf_counter() - start
    backend.close()
    assert answers == [ANSWER] * len(requests), "an answer came back incomplete"
    return len(requests) / elapsed


def openai_part(items: int, frames: int) -> None:
    video = _video(frames)
    answer = lambda body: ANSWER  # noqa: E731
    print(f"openai backend, local servers on 127.0.0.1, {frames} frames per request")
    with ChatServer(answer=answer, delay=0.2) as server:
        one = _rate([server.url], _requests(max(8, items // 6), video, frames), 1)
        eight = _rate([server.url], _requests(items, video, frames), 8)
    print(f"  200 ms server   concurrency 1: {one:6.2f} req/s   concurrency 8: {eight:6.2f} req/s"
          f"   ratio {eight / one:4.1f}x (goal >= 6x)")
    with ChatServer(answer=answer, delay=0.2, capacity=4) as a, ChatServer(answer=answer, delay=0.2, capacity=4) as b:
        single = _rate([a.url], _requests(items, video, frames), 16)
        double = _rate([a.url, b.url], _requests(items, video, frames), 16)
        split = (len(a.requests) - items, len(b.requests))
    print(f"  4-slot servers, concurrency 16   one server: {single:6.2f} req/s   two servers: {double:6.2f} req/s"
          f"   ratio {double / single:4.2f}x (ideal 2x; split {split[0]}/{split[1]})")


def _video(frames: int) -> str:
    if not frames:
        return ""
    from tests.engine.media_fixtures import write_cfr_video

    path = Path(tempfile.mkdtemp(prefix="bench_infer_")) / "v.mp4"
    return str(write_cfr_video(path, 4 * frames, 25.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("openai",), default="openai")
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--frames", type=int, default=0)
    args = parser.parse_args()
    if args.part == "openai":
        openai_part(args.items, args.frames)


if __name__ == "__main__":
    main()
