"""What the worker process costs per item: the `transformers` backend vs the same model in-process.

Both sides answer the same requests with the same tiny Qwen2.5-Omni (or `--model DIR`) and the
same input function (engine.backends.qwen_inputs), greedy, a fixed number of new tokens. The
in-process baseline decodes the media and calls `generate` directly; the backend decodes the
same media, hands it over as .npy files and streams the text back through the worker pipe.
The difference is the price of crash isolation.

    .venv/bin/python benchmarks/bench_worker.py [--model DIR] [--frames 50] [--size 1280x720]
                                                [--minutes 1] [--new-tokens 32] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.backends.inputs import InputOptions, RequestBuilder  # noqa: E402
from engine.backends.prompts import load_prompt_set  # noqa: E402
from engine.benchmark import load_dataset  # noqa: E402


def make_requests(work: Path, args: argparse.Namespace) -> list:
    bench = work / "bench"
    subprocess.run([sys.executable, "-m", "engine.cli", "synth", str(bench), "--videos", "1", "--minutes",
                    str(args.minutes), "--size", args.size, "--seed", "7"], check=True, capture_output=True)
    items = load_dataset(bench / "dataset.json")
    builder = RequestBuilder(load_prompt_set("official"), bench / "videos", "long", "direct",
                             InputOptions(frames=args.frames, max_new_tokens=args.new_tokens))
    return [builder.build(item) for item in items[: args.repeats]]


class InProcess:
    """The baseline: the same model and input function, no process boundary."""

    def __init__(self, model_dir: str, new_tokens: int) -> None:
        from transformers import Qwen2_5OmniThinkerForConditionalGeneration

        from engine.backends.qwen_inputs import load_processor

        self.processor = load_processor(model_dir)
        self.model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(model_dir, local_files_only=True).eval()
        self.new_tokens = new_tokens

    def answer(self, request) -> None:
        import torch

        from engine.backends.media_handoff import decode_request_media
        from engine.backends.qwen_inputs import build_model_inputs

        media = decode_request_media(request)
        inputs = build_model_inputs(self.processor, request, media.frames, media.audio)
        with torch.inference_mode():
            self.model.generate(**inputs, max_new_tokens=self.new_tokens, min_new_tokens=self.new_tokens,
                                do_sample=False)


def timed(answer, request) -> float:
    start = time.perf_counter()
    answer(request)
    return time.perf_counter() - start


def measure(model_dir: str, requests: list, new_tokens: int) -> tuple[float, list[float], list[float]]:
    """Both sides loaded at once and interleaved item by item (alternating who goes first),
    so load from other processes hits both alike."""
    from engine.backends.base import create_backend

    baseline = InProcess(model_dir, new_tokens)
    start = time.perf_counter()
    backend = create_backend("transformers", model=model_dir, max_new_tokens=new_tokens,
                             generate_kwargs={"min_new_tokens": new_tokens})
    startup = time.perf_counter() - start
    try:
        def through_worker(request) -> None:
            "".join(backend.generate(request))

        timed(baseline.answer, requests[0])  # warm-up, both sides
        timed(through_worker, requests[0])
        local, remote = [], []
        for position, request in enumerate(requests):
            order = [(local, baseline.answer), (remote, through_worker)]
            for times, answer in (order if position % 2 == 0 else order[::-1]):
                times.append(timed(answer, request))
    finally:
        backend.close()
    return startup, local, remote


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a Qwen2.5-Omni thinker folder (default: a fresh tiny one)")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=4, help="items answered by each side (after a warm-up)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avr-bench-worker-") as tmp:
        work = Path(tmp)
        model_dir = args.model
        if model_dir is None:
            from engine.dev.tiny_model import build_tiny_model

            model_dir = str(build_tiny_model(work / "tiny"))
        requests = make_requests(work, args)
        startup, baseline, worker = measure(model_dir, requests, args.new_tokens)
    result = {
        "items": len(requests), "frames": args.frames, "size": args.size, "new_tokens": args.new_tokens,
        "in_process_median_s": round(statistics.median(baseline), 3),
        "worker_median_s": round(statistics.median(worker), 3),
        "overhead_per_item_s": round(statistics.median(worker) - statistics.median(baseline), 3),
        "worker_startup_s": round(startup, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['items']} items, {args.frames} frames at {args.size} + audio, {args.new_tokens} new tokens")
        print(f"in-process (baseline): {result['in_process_median_s']:.3f} s per item (median)")
        print(f"through the worker:    {result['worker_median_s']:.3f} s per item (median), "
              f"{result['overhead_per_item_s']:+.3f} s; worker start + load {result['worker_startup_s']:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
