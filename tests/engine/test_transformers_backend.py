"""The `transformers` backend end to end: the tiny Qwen2.5-Omni in a real worker process.

One synthetic item (video + audio from `avr synth`) goes through the worker: frames and audio
reach the model (the worker's debug hooks count encoder calls), text streams back in chunks,
and the engine parses and scores it. Killing the worker mid-generation is a WorkerCrashed on
that item; the next request starts a new worker and works.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.backends.base import BackendError, BackendUnavailable, Cancelled, WorkerCrashed, create_backend
from engine.backends.inputs import InputOptions, RequestBuilder
from engine.backends.prompts import load_prompt_set
from engine.benchmark import load_dataset
from engine.parsing import parse_count
from engine.scoring.aggregate import evaluate_long

pytestmark = pytest.mark.timeout(300)
FRAMES = 8


@pytest.fixture(scope="module")
def synth_bench(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "bench"
    done = subprocess.run([sys.executable, "-m", "engine.cli", "synth", str(out), "--videos", "1", "--minutes", "0.2",
                           "--size", "160x96", "--seed", "11"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def long_requests(synth_bench: Path):
    items = load_dataset(synth_bench / "dataset.json")
    builder = RequestBuilder(load_prompt_set("official"), synth_bench / "videos", "long", "thinking",
                             InputOptions(frames=FRAMES, max_new_tokens=24))
    return items, [builder.build(item) for item in items[:2]]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path):
    # min_new_tokens keeps the random model from stopping early, so generations are long enough
    # to be interrupted on purpose.
    backend = create_backend("transformers", model=str(tiny_model_dir), debug=True,
                             generate_kwargs={"min_new_tokens": 24}, timeout=120)
    yield backend
    backend.close()


def test_tiny_model_answers_a_synthetic_item_through_the_worker(backend, long_requests, tiny_model_dir) -> None:
    from engine.backends.qwen_inputs import count_prompt_tokens

    items, requests = long_requests
    request = requests[0]
    assert any(kind == "audio" for kind, _ in request.segments) and request.audio_spans
    assert backend.worker.info["hub_offline"] is True and backend.worker.info["trust_remote_code"] is False
    chunks = list(backend.generate(request))
    stats = backend.last_stats
    assert len(chunks) >= 2, chunks  # streamed, not one final string
    assert stats["new_tokens"] == 24
    assert stats["encoder_calls"]["visual"] >= 1  # the frames reached the vision encoder
    assert stats["encoder_calls"]["audio_tower"] >= 1  # the audio reached the audio encoder
    # The dry run's token count is the worker's prompt length (same input function).
    assert count_prompt_tokens(str(tiny_model_dir), request) == stats["prompt_tokens"]
    report = evaluate_long([(items[0], "".join(chunks), None)], mode="strict")
    score = report.per_item[items[0].index]
    parsed = parse_count("".join(chunks), "strict")
    assert report.n == 1 and score.gt == items[0].answer and score.count == parsed.value
    assert report.parse_failures == (0 if parsed.ok else 1)
    if parsed.ok:
        assert score.abs_error == abs(parsed.value - items[0].answer)


def test_a_model_error_is_an_item_error_and_the_worker_stays(backend, long_requests) -> None:
    _, requests = long_requests
    pid = backend.worker.pid
    saved = dict(backend.generate_kwargs)
    backend.generate_kwargs = {"not_a_generation_argument": 1}
    try:
        with pytest.raises(BackendError, match="transformers worker: ValueError: .*not_a_generation_argument") as caught:
            list(backend.generate(requests[0]))
    finally:
        backend.generate_kwargs = saved
    assert not isinstance(caught.value, WorkerCrashed)
    assert backend.worker.pid == pid and list(backend.generate(requests[0]))


def test_killing_the_worker_mid_generation_then_the_next_request_works(backend, long_requests) -> None:
    _, requests = long_requests
    request = requests[1]
    first_pid = backend.worker.pid
    with _endless(backend):
        with pytest.raises(WorkerCrashed, match=rf"killed by SIGKILL\) while answering item {request.index}"):
            for position, _ in enumerate(backend.generate(request)):
                if position == 1:
                    os.kill(first_pid, signal.SIGKILL)
    assert not backend.worker.alive
    chunks = list(backend.generate(request))  # a new worker starts and answers
    assert backend.worker.pid != first_pid
    assert backend.last_stats["new_tokens"] == 24 and chunks


def test_a_run_records_the_crash_on_its_item_and_goes_on(backend, long_requests, synth_bench: Path,
                                                         tmp_path: Path) -> None:
    from engine.runs import ResultsFile, RunSpec, run_batch

    items, requests = long_requests
    by_index = {r.index: r for r in requests}
    spec = RunSpec(backend="transformers", dataset=synth_bench / "dataset.json", videos=synth_bench / "videos",
                   protocol="long", out=tmp_path / "run.jsonl", item_timeout=120)
    results = ResultsFile.open(spec.out, {"backend": "transformers", "model": backend.model_id})
    if not backend.worker.alive:
        backend.worker.start()
    victim = backend.worker.pid

    def kill_soon() -> None:  # item 1 would run for thousands of tokens; item 2 gets the usual 24
        time.sleep(1.0)
        backend.max_new_tokens, backend.generate_kwargs = None, {"min_new_tokens": 24}
        os.kill(victim, signal.SIGKILL)

    with _endless(backend):
        killer = threading.Thread(target=kill_soon)
        killer.start()
        summary = run_batch(spec, items[:2], backend, lambda item: by_index[item.index], results)
        killer.join()
    rows = [json.loads(line) for line in spec.out.read_text().splitlines()]
    assert [r["index"] for r in rows] == [items[0].index, items[1].index]
    assert "worker died (killed by SIGKILL) while answering item" in rows[0]["error"]
    assert rows[1]["error"] is None and rows[1]["pred"]
    assert (summary.answered, summary.failed) == (1, 1)


def test_cancel_stops_generation_and_the_worker(backend, long_requests) -> None:
    """What the runner does on a timeout or Ctrl-C (runs last: it leaves no worker behind)."""
    cancel = threading.Event()
    with _endless(backend), pytest.raises(Cancelled):
        for _ in backend.generate(long_requests[1][0], cancel):
            cancel.set()
    assert not backend.worker.alive


@contextlib.contextmanager
def _endless(backend):
    """Generations that would run for thousands of tokens (so they can be interrupted)."""
    saved = backend.max_new_tokens, dict(backend.generate_kwargs)
    backend.max_new_tokens, backend.generate_kwargs = 4000, {"min_new_tokens": 4000}
    try:
        yield
    finally:
        backend.max_new_tokens, backend.generate_kwargs = saved


def test_unusable_model_folders_are_refused_before_any_worker(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(BackendUnavailable, match="needs --model"):
        create_backend("transformers")
    with pytest.raises(BackendUnavailable, match="no config.json"):
        create_backend("transformers", model=str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(BackendUnavailable, match="'llama' is not supported"):
        create_backend("transformers", model=str(tmp_path))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-Omni-7B"}))
    with pytest.raises(BackendUnavailable, match="not a local folder"):
        create_backend("transformers", model=str(adapter))


@pytest.mark.slow
def test_avr_infer_with_the_transformers_backend_writes_scored_rows(synth_bench: Path, tiny_model_dir: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "infer", "--backend", "transformers", "--model", str(tiny_model_dir),
         "--dataset", str(synth_bench / "dataset.json"), "--videos", str(synth_bench / "videos"),
         "--protocol", "long", "--out", str(out), "--frames", "4", "--max-new-tokens", "8", "--limit", "2"],
        capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["error"] for r in rows] == [None, None]
    assert all(r["backend"] == "transformers" and r["model"] == str(tiny_model_dir.resolve()) for r in rows)
    scored = subprocess.run([sys.executable, "-m", "engine.cli", "eval", "--predictions", str(out), "--json",
                             "--dataset", str(synth_bench / "dataset.json")], capture_output=True, text=True, timeout=60)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["long"]["n"] == 2


@pytest.mark.slow
def test_a_lora_adapter_loads_on_its_base_and_changes_the_answer(backend, long_requests, tiny_model_dir: Path,
                                                                 tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    base = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,  # random B: the adapter changes outputs
                        target_modules=r".*model\.layers\.\d+\.self_attn\.(q_proj|v_proj)")
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"] \
        == str(tiny_model_dir)
    _, requests = long_requests
    base_answer = "".join(backend.generate(requests[0]))
    adapted = create_backend("transformers", model=str(tmp_path / "adapter"), generate_kwargs={"min_new_tokens": 24})
    try:
        assert adapted.worker.info["adapter"] == str(tmp_path / "adapter")
        adapted_answer = "".join(adapted.generate(requests[0]))
    finally:
        adapted.close()
    assert adapted_answer and adapted_answer != base_answer


@pytest.mark.slow
def test_a_tiny_qwen3_omni_runs_through_the_same_worker(long_requests, tmp_path: Path) -> None:
    from engine.dev.tiny_model import build_tiny_model

    model_dir = build_tiny_model(tmp_path / "qwen3", family="qwen3_omni")
    assert json.loads((model_dir / "config.json").read_text())["model_type"] == "qwen3_omni_moe_thinker"
    qwen3 = create_backend("transformers", model=str(model_dir), debug=True, generate_kwargs={"min_new_tokens": 8},
                           max_new_tokens=8)
    try:
        assert qwen3.worker.info["family"] == "qwen3_omni"
        chunks = list(qwen3.generate(long_requests[1][0]))
        stats = qwen3.last_stats
    finally:
        qwen3.close()
    assert chunks and stats["new_tokens"] == 8
    assert stats["encoder_calls"]["visual"] >= 1 and stats["encoder_calls"]["audio_tower"] >= 1
