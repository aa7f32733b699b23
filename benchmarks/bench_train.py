"""GRPO step time and peak memory: our MediaGRPOTrainer against stock trl's GRPOTrainer, same run.

Both train the same tiny Qwen2.5-Omni thinker (or --model DIR, e.g. a full-size randomly initialised
thinker on a GPU) on the same text-only prompts with the same reward, so the difference is the
overhead of the subclass on trl's own path (goal: <= 10%). Each trainer runs in its own child process
so peak memory (max RSS; CUDA max allocated on a GPU) is its own.

    .venv/bin/python benchmarks/bench_train.py [--steps 6] [--model DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = [f"Question {i}: how many beeps are there in the clip? Answer inside <answer> </answer>." for i in range(64)]


def reward_by_length(completions, **kwargs):
    return [float(len(str(c)) % 7) / 6 for c in completions]


def run_one(kind: str, model_dir: str, steps: int, generations: int, completion_tokens: int) -> dict:
    """Train `steps` GRPO steps in this process; time each step after the first (warm-up)."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoProcessor,
        AutoTokenizer,
        Qwen2_5OmniThinkerForConditionalGeneration,
        TrainerCallback,
    )
    from trl import GRPOConfig, GRPOTrainer

    from training.inputs import InputOptions, MediaCache
    from training.trainers import MediaGRPOTrainer

    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(model_dir, dtype=dtype)
    if cuda:
        model = model.cuda()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.start)

    with tempfile.TemporaryDirectory() as out:
        args = GRPOConfig(output_dir=out, bf16=cuda, per_device_train_batch_size=generations,
                          num_generations=generations, max_completion_length=completion_tokens, max_steps=steps,
                          learning_rate=1e-6, report_to=[], save_strategy="no", logging_steps=1, seed=0,
                          activation_checkpointing=False, shuffle_dataset=False)
        common = dict(model=model, reward_funcs=[reward_by_length], args=args, processing_class=tokenizer,
                      train_dataset=Dataset.from_list([{"prompt": p} for p in PROMPTS]), callbacks=[Timer()])
        if kind == "ours":
            processor = AutoProcessor.from_pretrained(model_dir)
            trainer = MediaGRPOTrainer(media_cache=MediaCache(processor, InputOptions()), **common)
        else:
            trainer = GRPOTrainer(**common)
        trainer.train()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "trainer": kind, "steps_timed": len(times) - 1, "seconds_per_step": statistics.median(times[1:]),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "peak_cuda_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "device": torch.cuda.get_device_name() if cuda else "cpu",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="thinker folder (default: build the tiny one)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--completion-tokens", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=("ours", "stock"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.model, args.steps, args.generations, args.completion_tokens)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from engine.dev.tiny_model import build_tiny_model

            model = str(build_tiny_model(Path(tmp) / "tiny"))
        results = {}
        for kind in ("stock", "ours", "stock", "ours"):  # interleaved: drift in machine load hits both
            out = subprocess.run([sys.executable, __file__, "--child", kind, "--model", model, "--steps",
                                  str(args.steps), "--generations", str(args.generations), "--completion-tokens",
                                  str(args.completion_tokens)], capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            best = results.get(kind)
            if best is None or row["seconds_per_step"] < best["seconds_per_step"]:
                results[kind] = row
    overhead = results["ours"]["seconds_per_step"] / results["stock"]["seconds_per_step"] - 1
    summary = {"stock": results["stock"], "ours": results["ours"], "overhead": overhead}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        for kind in ("stock", "ours"):
            r = results[kind]
            cuda = f", peak CUDA {r['peak_cuda_mb']} MB" if r["peak_cuda_mb"] is not None else ""
            print(f"{kind:5s}: {r['seconds_per_step']:.3f} s/GRPO step (median of {r['steps_timed']}), "
                  f"peak RSS {r['peak_rss_mb']} MB{cuda} on {r['device']}")
        print(f"overhead of MediaGRPOTrainer on text-only data: {100 * overhead:+.1f}% (goal <= 10%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
