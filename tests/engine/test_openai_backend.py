"""The `openai` backend against a real chat-completions server on 127.0.0.1 (tests/engine/chat_server.py)."""

from __future__ import annotations

import base64
import io
import sys
import threading
import time
import wave

import cv2
import numpy as np
import pytest

from engine.backends.base import (
    AudioSpan,
    BackendError,
    BackendUnavailable,
    Cancelled,
    GenerationTimeout,
    ModelRequest,
    create_backend,
)
from engine.backends.openai_http import backoff_delay, chat_completions_url
from tests.engine.chat_server import ChatServer
from tests.engine.media_fixtures import decode_index, write_cfr_video

FPS = 25.0


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    return str(write_cfr_video(tmp_path_factory.mktemp("openai") / "v.mp4", 100, FPS))


def request_for(video: str, frame_indices=(), segments=None, audio=(), index: int = 0) -> ModelRequest:
    times = tuple(round(i / FPS, 2) for i in frame_indices)
    if segments is None:
        segments = (("text", "How many?"),)
    return ModelRequest(index=index, video_path=video, protocol="long", reasoning="direct", category="object",
                        system_prompt="You count.", segments=tuple(segments), frame_indices=tuple(frame_indices),
                        frame_times=times, audio_spans=tuple(AudioSpan(a, b) for a, b in audio))


def backend(urls, **options):
    options.setdefault("backoff", 0.01)
    return create_backend("openai", url=urls, model="test-model", **options)


def answer(be, request, cancel=None) -> str:
    return "".join(be.generate(request, cancel))


def user_parts(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "user"][0]["content"]


def jpeg_index(b64: str) -> int:
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR),
                       cv2.COLOR_BGR2RGB)
    return decode_index(rgb)


def wav_info(b64: str) -> tuple[int, int]:
    with wave.open(io.BytesIO(base64.b64decode(b64))) as w:
        return w.getframerate(), w.getnframes()


def test_images_follow_their_captions_and_audio_travels_as_wav(video):
    indices = (3, 40, 77)
    segments = [("text", "This is a video:\n")]
    for i, index in enumerate(indices):
        segments += [("text", f"Frame{i + 1} sampled at {round(index / FPS, 2)} seconds\n"), ("frame", i)]
    segments += [("audio", 0), ("text", "How many?")]
    with ChatServer() as server:
        be = backend(server.url)
        assert answer(be, request_for(video, indices, segments, audio=[(1.0, 2.5)])) == "<answer>3</answer>"
        be.close()
    body = server.requests[0]["body"]
    assert body["model"] == "test-model" and body["messages"][0] == {"role": "system", "content": "You count."}
    parts = user_parts(body)
    assert [p["type"] for p in parts] == ["text"] + ["text", "image_url"] * 3 + ["input_audio", "text"]
    for i, index in enumerate(indices):
        caption, image = parts[1 + 2 * i], parts[2 + 2 * i]
        assert caption["text"].startswith(f"Frame{i + 1} sampled at {round(index / FPS, 2)} seconds")
        assert image["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert jpeg_index(image["image_url"]["url"].split(",", 1)[1]) == index
    assert wav_info(parts[-2]["input_audio"]["data"]) == (16000, 24000)


def test_video_part_for_vllm_with_fps_and_audio_url(video):
    indices = (0, 25, 50, 75)
    segments = [("text", "Frames at 0, 1, 2, 3 s:"), ("video", (0, 1, 2, 3)), ("audio", 0), ("text", "Count.")]
    with ChatServer() as server:
        be = backend(server.url, audio_part="audio_url")
        answer(be, request_for(video, indices, segments, audio=[(0.0, 1.0)]))
        be.close()
    body = server.requests[0]["body"]
    parts = user_parts(body)
    assert [p["type"] for p in parts] == ["text", "video_url", "audio_url", "text"]
    url = parts[1]["video_url"]["url"]
    assert url.startswith("data:video/jpeg;base64,")
    assert [jpeg_index(f) for f in url.split(",", 1)[1].split(",")] == list(indices)
    assert body["media_io_kwargs"] == {"video": {"fps": 1.0, "num_frames": 4}}
    assert parts[2]["audio_url"]["url"].startswith("data:audio/wav;base64,")


def test_no_audio_drops_the_audio_parts(video):
    segments = [("audio", 0), ("text", "Count.")]
    with ChatServer() as server:
        be = backend(server.url, audio_part="none")
        answer(be, request_for(video, (), segments, audio=[(0.0, 1.0)]))
        be.close()
    assert [p["type"] for p in user_parts(server.requests[0]["body"])] == ["text"]


def test_missing_video_is_a_backend_error(tmp_path):
    with ChatServer() as server:
        be = backend(server.url)
        with pytest.raises(BackendError, match="cannot read frames"):
            answer(be, request_for(str(tmp_path / "gone.mp4"), (0,), [("frame", 0)]))
        be.close()
    assert server.requests == []


def test_every_transient_failure_is_retried_until_the_answer_is_whole(video):
    script = ["500", "drop", "drop_mid", "broken", "429", "slow:1", "drop_mid", "ok"]
    text = "<think>counting the dogs one by one</think><answer>7</answer>"
    with ChatServer(lambda n, body: script[n], answer=lambda body: text) as server:
        be = backend(server.url, retries=len(script) - 1, request_timeout=0.6, backoff=0.002)
        chunks = list(be.generate(request_for(video)))
        be.close()
    assert "".join(chunks) == text
    assert len(server.requests) == len(script)


def test_non_streaming_servers_are_read_whole(video):
    with ChatServer(answer=lambda body: "<answer>4</answer>") as server:
        be = backend(server.url, stream=False)
        assert answer(be, request_for(video)) == "<answer>4</answer>"
        be.close()
    assert server.requests[0]["body"]["stream"] is False


def test_persistent_5xx_gives_up_with_the_servers_message(video):
    with ChatServer(lambda n, body: "500") as server:
        be = backend(server.url, retries=2)
        with pytest.raises(BackendError, match=r"HTTP 500 .*scripted 500 \(gave up after 3 attempts\)"):
            answer(be, request_for(video))
        be.close()
    assert len(server.requests) == 3


@pytest.mark.parametrize("status, hint", [("400", "scripted 400"), ("404", "model name 'test-model'")])
def test_4xx_is_not_retried(video, status, hint):
    with ChatServer(lambda n, body: status) as server:
        be = backend(server.url, retries=5)
        with pytest.raises(BackendError, match=hint) as caught:
            answer(be, request_for(video))
        be.close()
    assert not isinstance(caught.value, GenerationTimeout)
    assert len(server.requests) == 1


def test_timeouts_are_retried_then_reported_as_timeouts(video):
    with ChatServer(lambda n, body: "slow:3") as server:
        be = backend(server.url, retries=1, request_timeout=0.3)
        start = time.monotonic()
        with pytest.raises(GenerationTimeout, match="within 0.3 s"):
            answer(be, request_for(video))
        elapsed = time.monotonic() - start
        be.close()
    assert len(server.requests) == 2
    assert elapsed < 2.0


def test_a_retry_that_answers_differently_is_not_stitched(video):
    answers = iter(["<answer>11111111</answer>", "<answer>2</answer>"])
    with ChatServer(lambda n, body: "drop_mid" if n == 0 else "ok", answer=lambda body: next(answers)) as server:
        be = backend(server.url, retries=3)
        with pytest.raises(BackendError, match="answered differently"):
            answer(be, request_for(video))
        be.close()


def test_cancel_during_backoff_stops_promptly(video):
    cancel = threading.Event()
    with ChatServer(lambda n, body: "500") as server:
        be = backend(server.url, retries=5, backoff=5.0)
        threading.Timer(0.3, cancel.set).start()
        start = time.monotonic()
        with pytest.raises(Cancelled):
            answer(be, request_for(video), cancel)
        be.close()
    assert time.monotonic() - start < 2.0


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 10.0)]:
        delays = [backoff_delay(attempt, 1.0, 10.0) for _ in range(200)]
        assert min(delays) >= ceiling / 2 and max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 10  # jittered, not a constant


def test_requests_spread_over_urls_and_fail_over_from_a_dead_one(video):
    with ChatServer() as one, ChatServer() as two:
        be = backend([one.url, two.url])
        for _ in range(10):
            answer(be, request_for(video))
        be.close()
        assert (len(one.requests), len(two.requests)) == (5, 5)
        dead = ChatServer()
        dead_url = dead.url  # bound then closed: connections are refused
        dead._httpd.server_close()
        be = backend([dead_url, one.url], retries=1)
        for _ in range(4):
            assert answer(be, request_for(video)) == "<answer>0</answer>"
        be.close()
        assert len(one.requests) == 9


def test_url_forms():
    assert chat_completions_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("https://h/v1/chat/completions") == "https://h/v1/chat/completions"
    with pytest.raises(BackendUnavailable):
        chat_completions_url("ftp://h/v1")
    with pytest.raises(BackendUnavailable, match="--url"):
        create_backend("openai", url=None, model="m")


_connects: list = []
_recording = threading.Event()


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect" and _recording.is_set():
        _connects.append(args[1])


sys.addaudithook(_audit)


def test_nothing_but_the_given_url_is_contacted(video, monkeypatch):
    with ChatServer() as trap:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, trap.url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        redirect = f"redirect:{trap.url}/chat/completions"
        with ChatServer(lambda n, body: redirect if n == 2 else "ok") as server:
            be = backend(server.url)
            _connects.clear()
            _recording.set()
            try:
                answer(be, request_for(video))
                answer(be, request_for(video))
                with pytest.raises(BackendError, match="redirect.*not followed"):
                    answer(be, request_for(video))
            finally:
                _recording.clear()
                be.close()
    assert trap.connections == 0 and trap.requests == []
    assert _connects and {tuple(address)[:2] for address in _connects} == {("127.0.0.1", server.port)}


def test_api_key_goes_in_the_header_only(video, monkeypatch):
    monkeypatch.setenv("AVR_TEST_KEY", "sk-secret-123")
    with ChatServer(lambda n, body: "ok" if n == 0 else "400") as server:
        be = backend(server.url, api_key_env="AVR_TEST_KEY")
        answer(be, request_for(video))
        with pytest.raises(BackendError) as caught:
            answer(be, request_for(video))
        be.close()
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in str(caught.value)
    assert "sk-secret-123" not in repr(server.requests[0]["body"])
    monkeypatch.delenv("AVR_TEST_KEY")
    with pytest.raises(BackendUnavailable, match=r"\$AVR_TEST_KEY"):
        backend("http://127.0.0.1:9/v1", api_key_env="AVR_TEST_KEY")


def test_official_prompts_as_images_reach_the_server_as_the_benchmark_sends_them(video, tmp_path):
    """The real request builder (official set, --frames-as images): every image right after its caption."""
    from pathlib import Path

    from engine.backends.inputs import InputOptions, RequestBuilder
    from engine.backends.prompts import load_prompt_set
    from engine.benchmark import items_from_json

    item = items_from_json([{"index": 3, "video": Path(video).name, "question_en": "How many dogs bark?",
                             "category": "event", "answer": 2, "clue": [{"start": 0.5, "end": 1.0}],
                             "query_interval": [0.0, 4.0]}])[0]
    builder = RequestBuilder(load_prompt_set("official"), Path(video).parent, "long", "direct",
                             InputOptions(frames=5, frames_as="images"))
    request = builder.build(item)
    with ChatServer() as server:
        be = backend(server.url, audio_part="none")
        assert answer(be, request) == "<answer>5</answer>"
        be.close()
    parts = user_parts(server.requests[0]["body"])
    images = [k for k, p in enumerate(parts) if p["type"] == "image_url"]
    assert len(images) == 5
    for i, k in enumerate(images):
        assert parts[k - 1]["type"] == "text"
        assert parts[k - 1]["text"].strip().endswith(f"Frame{i + 1} sampled at {request.frame_times[i]} seconds")
        assert jpeg_index(parts[k]["image_url"]["url"].split(",", 1)[1]) == request.frame_indices[i]


def test_a_model_the_servers_do_not_serve_or_no_server_at_all_stops_before_item_one():
    with ChatServer(models=["avr-7b"]) as server:
        with pytest.raises(BackendUnavailable, match=r"serves avr-7b, not --model 'test-model'"):
            backend(server.url)
        assert server.gets == ["/v1/models"] and server.requests == []
        create_backend("openai", url=server.url, model="avr-7b").close()
    dead = ChatServer()
    dead_url = dead.url
    dead._httpd.server_close()
    with pytest.raises(BackendUnavailable, match="cannot reach the server"):
        backend(dead_url)


def test_a_whole_avr_infer_run_connects_only_to_the_given_servers(video, tmp_path, monkeypatch):
    """`avr infer` in this process (models check, concurrent items, retries): every socket connect recorded."""
    import json
    from pathlib import Path

    from engine.cli import main

    items = [{"index": i, "video": Path(video).name, "question_en": f"How many in item {i}?", "category": "event",
              "answer": 1, "clue": [{"start": 0.5, "end": 1.0}], "query_interval": [0.0, 4.0]} for i in range(6)]
    (tmp_path / "ds.json").write_text(json.dumps(items))
    with ChatServer() as trap:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, trap.url.removesuffix("/v1"))
        with ChatServer(lambda n, body: "500" if n % 3 == 0 else "ok", models=["test-model"]) as one, \
                ChatServer(lambda n, body: "drop" if n % 3 == 0 else "ok") as two:
            argv = ["infer", "--backend", "openai", "--model", "test-model", "--url", one.url, "--url", two.url,
                    "--dataset", str(tmp_path / "ds.json"), "--videos", str(Path(video).parent),
                    "--protocol", "long", "--frames", "3", "--out", str(tmp_path / "run.jsonl"),
                    "--concurrency", "3"]
            _connects.clear()
            _recording.set()
            try:
                assert main(argv) == 0
            finally:
                _recording.clear()
    rows = [json.loads(line) for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert sorted(r["index"] for r in rows) == list(range(6)) and all(r["error"] is None for r in rows)
    assert {tuple(address)[:2] for address in _connects} == {("127.0.0.1", one.port), ("127.0.0.1", two.port)}
    assert trap.connections == 0
