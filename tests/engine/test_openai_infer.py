"""`avr infer --backend openai` end to end: a real CLI process against real local servers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.engine.chat_server import ChatServer
from tests.engine.media_fixtures import write_cfr_video

ITEMS = 16
KEY = "sk-never-write-me-4242"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("openai_infer")
    (root / "videos").mkdir()
    write_cfr_video(root / "videos" / "v.mp4", 50, 25.0)
    items = [{"index": i, "video": "v.mp4", "question_en": f"How many dogs bark in item {i}?", "category": "event",
              "answer": i % 5, "clue": [{"start": 0.2, "end": 0.6}], "query_interval": [0.0, 2.0]}
             for i in range(ITEMS)]
    (root / "ds.json").write_text(json.dumps(items))
    return root


def item_of(body: dict) -> int:
    text = " ".join(p.get("text", "") for m in body["messages"] if isinstance(m["content"], list) for p in m["content"])
    return int(re.search(r"in item (\d+)\?", text).group(1))


def answer_for(body: dict) -> str:
    return f"<answer>{item_of(body) % 5}</answer>"


def infer_command(bench: Path, out: Path, urls: list[str], *extra: str) -> list[str]:
    command = [sys.executable, "-m", "engine.cli", "infer", "--backend", "openai", "--model", "served-model",
               "--dataset", str(bench / "ds.json"), "--videos", str(bench / "videos"), "--protocol", "long",
               "--frames", "4", "--out", str(out), "--api-key-env", "AVR_SERVER_KEY", *extra]
    for url in urls:
        command += ["--url", url]
    return command


def trap_env(trap: ChatServer) -> dict:
    """The key in its variable, and every proxy variable pointing at a server that must see nothing."""
    env = dict(os.environ, AVR_SERVER_KEY=KEY)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = trap.url.removesuffix("/v1")
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    return env


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_flaky_servers_every_item_answered_or_its_error_recorded(bench, tmp_path):
    attempts: Counter = Counter()
    lock = threading.Lock()
    failures = ["500", "drop", "broken", "drop_mid", "429"]

    def flaky(n: int, body: dict) -> str:
        item = item_of(body)
        with lock:
            attempts[item] += 1
            attempt = attempts[item]
        if item % 8 == 3:
            return "400"  # e.g. context too long: not retried, recorded on the row
        return failures[item % len(failures)] if attempt == 1 else "ok"

    out = tmp_path / "run.jsonl"
    with ChatServer(answer=answer_for) as trap, ChatServer(flaky, answer=answer_for, models=["served-model"]) as a, \
            ChatServer(flaky, answer=answer_for) as b:
        done = subprocess.run(infer_command(bench, out, [a.url, b.url], "--concurrency", "4", "--retries", "3"),
                              env=trap_env(trap), capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        first = rows(out)
        assert sorted(r["index"] for r in first) == list(range(ITEMS))
        for row in first:
            if row["index"] % 8 == 3:
                assert row["pred"] == "" and "HTTP 400" in row["error"] and "scripted 400" in row["error"]
            else:
                assert row["error"] is None and row["pred"] == f"<answer>{row['index'] % 5}</answer>"
            assert row["backend"] == "openai" and row["model"] == "served-model"
        assert len(a.requests) > 0 and len(b.requests) > 0  # spread over both servers
        assert a.gets == ["/v1/models"] and b.gets == ["/v1/models"]  # checked once, before item 1
        assert all(r["headers"]["Authorization"] == f"Bearer {KEY}" for r in a.requests + b.requests)
        served_before = len(a.requests), len(b.requests)

        # the 400s were the server's fault: fixed, a rerun retries only the failed items
        a.behaviour = b.behaviour = lambda n, body: "ok"
        again = subprocess.run(infer_command(bench, out, [a.url, b.url], "--concurrency", "4"),
                               env=trap_env(trap), capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        later = a.requests[served_before[0]:] + b.requests[served_before[1]:]
        retried = sorted(item_of(r["body"]) for r in later)
        assert retried == [3, 11]
    latest = {r["index"]: r for r in rows(out)}
    assert all(latest[i]["error"] is None and latest[i]["pred"] == f"<answer>{i % 5}</answer>" for i in range(ITEMS))
    assert trap.connections == 0
    for path in tmp_path.iterdir():
        assert KEY not in path.read_text(), path
    assert KEY not in done.stdout + done.stderr + again.stdout + again.stderr


@pytest.mark.slow
def test_timeouts_are_recorded_and_a_dead_server_is_a_clear_error(bench, tmp_path):
    out = tmp_path / "run.jsonl"
    slow_item = lambda n, body: "slow:3" if item_of(body) == 5 else "ok"  # noqa: E731
    with ChatServer(slow_item, answer=answer_for) as server:
        done = subprocess.run(infer_command(bench, out, [server.url], "--concurrency", "8", "--retries", "1",
                                            "--request-timeout", "0.5", "--limit", "8"),
                              env=dict(os.environ, AVR_SERVER_KEY=KEY), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    by_index = {r["index"]: r for r in rows(out)}
    assert sorted(by_index) == list(range(8))
    assert "within 0.5 s" in by_index[5]["error"] and "gave up after 2 attempts" in by_index[5]["error"]
    assert all(by_index[i]["error"] is None for i in range(8) if i != 5)

    dead = ChatServer()
    dead_url = dead.url
    dead._httpd.server_close()
    done = subprocess.run(infer_command(bench, tmp_path / "dead.jsonl", [dead_url], "--limit", "2"),
                          env=dict(os.environ, AVR_SERVER_KEY=KEY), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("avr infer: error: cannot reach the server: http://127.0.0.1")
    assert not (tmp_path / "dead.jsonl").exists()


def test_missing_key_variable_is_one_line_error(bench, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AVR_SERVER_KEY"}
    done = subprocess.run(infer_command(bench, tmp_path / "x.jsonl", ["http://127.0.0.1:9/v1"]),
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("avr infer: error: --api-key-env names $AVR_SERVER_KEY")


@pytest.mark.slow
def test_killed_run_resumes_with_nothing_lost_or_repeated(bench, tmp_path):
    out = tmp_path / "run.jsonl"
    with ChatServer(answer=answer_for, delay=0.4) as server:
        process = subprocess.Popen(infer_command(bench, out, [server.url], "--concurrency", "4"),
                                   env=dict(os.environ, AVR_SERVER_KEY=KEY),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 5):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        before = rows(out)
        assert 5 <= len(before) < ITEMS
        server.delay = 0.0
        requests_before = len(server.requests)
        done = subprocess.run(infer_command(bench, out, [server.url], "--concurrency", "4"),
                              env=dict(os.environ, AVR_SERVER_KEY=KEY), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        asked_again = {item_of(r["body"]) for r in server.requests[requests_before:]}
    after = rows(out)
    assert after[: len(before)] == before  # nothing rewritten
    assert sorted(r["index"] for r in after) == list(range(ITEMS))  # each item exactly once
    assert asked_again == set(range(ITEMS)) - {r["index"] for r in before}
    assert all(r["error"] is None and r["pred"] == f"<answer>{r['index'] % 5}</answer>" for r in after)


@pytest.mark.slow
def test_ctrl_c_stops_at_once_even_with_requests_hanging(bench, tmp_path):
    out = tmp_path / "run.jsonl"
    hang_after_four = lambda n, body: "ok" if n < 4 else "slow:60"  # noqa: E731
    with ChatServer(hang_after_four, answer=answer_for) as server:
        process = subprocess.Popen(infer_command(bench, out, [server.url], "--concurrency", "4"),
                                   env=dict(os.environ, AVR_SERVER_KEY=KEY),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(server.requests) < 8:
            time.sleep(0.05)
        assert len(server.requests) == 8  # 4 answered, 4 hanging: no more than --concurrency in flight
        process.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        assert time.monotonic() - start < 5
    assert process.returncode == 130 and "interrupted" in stderr
    assert sorted(r["index"] for r in rows(out)) == [0, 1, 2, 3]
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["status"] == "interrupted"
