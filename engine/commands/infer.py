"""`avr infer`: run a backend over a benchmark, resumably, one fsynced JSONL row per item."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import UserError
from engine.runs.spec import DEFAULT_ITEM_TIMEOUT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("infer", help="run a model (backend) over a benchmark; resumable JSONL results")
    p.add_argument("--backend", required=True, help="replay, baseline, transformers, ... (see docs/inference.md)")
    p.add_argument("--dataset", required=True, type=Path, help="benchmark JSON")
    p.add_argument("--videos", required=True, type=Path, help="folder holding the items' videos")
    p.add_argument("--protocol", required=True, choices=("long", "ref", "clue"))
    p.add_argument("--out", required=True, type=Path, help="results JSONL (appended; a rerun resumes it)")
    p.add_argument("--reasoning", choices=("thinking", "direct"), default="direct",
                   help="thinking: <think>...</think><answer>...</answer>; direct: the answer only")
    p.add_argument("--model", help="model folder (or name) for backends that load one")
    p.add_argument("--prompts", default="official", help="official | default | a folder with your own copy")
    p.add_argument("--frames", type=int, default=50, help="frames per item (default 50, as the benchmark)")
    p.add_argument("--frames-as", choices=("video", "images"), default="video",
                   help="one video with the frame times in the text (default), or captioned images")
    p.add_argument("--max-pixels", type=int, help="pixel budget per frame for the model's processor")
    p.add_argument("--no-audio", action="store_true", help="send frames only")
    p.add_argument("--fast-seek", action="store_true",
                   help="use the keyframe nearest each sampled frame (much faster to decode); "
                        "the prompt states the true times of the frames used")
    p.add_argument("--item-timeout", type=float, default=DEFAULT_ITEM_TIMEOUT,
                   help=f"seconds before an item is given up and recorded as failed (default {DEFAULT_ITEM_TIMEOUT:.0f})")
    p.add_argument("--device", help="transformers: cuda, cuda:1, mps or cpu (default: the best available)")
    p.add_argument("--dtype", choices=("auto", "bfloat16", "float16", "float32"),
                   help="transformers: weights dtype (default auto: bf16 on GPU, float32 on CPU)")
    p.add_argument("--max-new-tokens", type=int, default=1024)
    p.add_argument("--limit", type=int, help="only the first N items of the dataset")
    p.add_argument("--export-folder", type=Path, help="also write the benchmark's folder layout here")
    p.add_argument("--source", type=Path, help="replay: the prediction folder or JSONL to answer from")
    p.add_argument("--trust-remote-code", action="store_true", help="let transformers run a model folder's own code")
    servers = p.add_argument_group("servers (--backend openai: any OpenAI-compatible server, e.g. vLLM)")
    servers.add_argument("--url", action="append", default=[],
                         help="server base URL, e.g. http://127.0.0.1:8000/v1; repeat it to spread requests")
    servers.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key")
    servers.add_argument("--concurrency", type=int, default=1, help="items in flight at once (default 1)")
    servers.add_argument("--request-timeout", type=float, help="seconds per HTTP attempt (default 600)")
    servers.add_argument("--retries", type=int, help="retries on 5xx, timeouts, dropped connections (default 4)")
    servers.add_argument("--audio-part", choices=("input_audio", "audio_url"),
                         help="how audio travels: input_audio (OpenAI, default) or audio_url (vLLM)")
    p.add_argument("--python", help="ola: the Python of your Ola environment (experimental backend)")
    p.add_argument("--events", action="store_true",
                   help='print the text as it streams, one JSON line per chunk on stdout: '
                        '{"event": "chunk", "index": N, "text": ...} (for the studio and other front ends)')
    p.add_argument("--dry-run", action="store_true",
                   help="write the rendered requests to --out instead of running a model")
    p.set_defaults(run=run_infer)


def spec_from_args(args: argparse.Namespace):
    from engine.runs import RunSpec

    return RunSpec(
        backend=args.backend, dataset=args.dataset, videos=args.videos, protocol=args.protocol, out=args.out,
        reasoning=args.reasoning, model=args.model, prompts=args.prompts, frames=args.frames,
        frames_as=args.frames_as, max_pixels=args.max_pixels, audio=not args.no_audio,
        max_new_tokens=args.max_new_tokens, limit=args.limit, export_folder=args.export_folder,
        source=args.source, trust_remote_code=args.trust_remote_code,
        urls=tuple(args.url), api_key_env=args.api_key_env, concurrency=args.concurrency,
        request_timeout=args.request_timeout, retries=args.retries, audio_part=args.audio_part, python=args.python,
        fast_seek=args.fast_seek, item_timeout=args.item_timeout, device=args.device, dtype=args.dtype,
    )


def run_infer(args: argparse.Namespace) -> int:
    from engine.benchmark import load_dataset
    from engine.runs.setup import request_builder

    spec = spec_from_args(args)
    spec.validate()
    items = load_dataset(spec.dataset)
    if spec.limit is not None:
        items = items[: spec.limit]
    builder = request_builder(spec)
    if args.dry_run:
        return _dry_run(spec, items, builder)
    return _run(spec, items, builder, _chunk_printer() if args.events else None)


def _chunk_printer():
    """Streamed text as JSON lines on stdout, whole lines only (items in flight print from threads)."""
    import threading

    lock = threading.Lock()

    def print_chunk(index: int, text: str) -> None:
        line = json.dumps({"event": "chunk", "index": index, "text": text}, ensure_ascii=False)
        with lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    return print_chunk


def _stop_on_sigterm() -> None:
    """SIGTERM (the studio's cancel) ends the run like Ctrl-C: rows kept, manifest says interrupted."""
    import signal

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _run(spec, items, builder, on_chunk=None) -> int:
    from engine.backends.base import create_backend
    from engine.progress import ProgressBar
    from engine.runs import ResultsFile, run_batch
    from engine.runs.manifest import check_same_protocol

    _stop_on_sigterm()
    check_same_protocol(spec.out, spec.protocol)
    known = {"backend": spec.backend, "reasoning": spec.reasoning, "prompt_set": builder.prompts.name,
             "prompt_hash": builder.prompts.hash}
    ResultsFile.precheck(spec.out, known)  # refuse before loading a model; `model` is known after
    backend = create_backend(spec.backend, **spec.backend_options())
    try:
        results = ResultsFile.open(spec.out, {**known, "model": backend.model_id})
        if results.torn_bytes:
            print(f"{spec.out}: removed a torn last line ({results.torn_bytes} bytes) left by an interrupted run",
                  file=sys.stderr)
        done = results.done() & {item.index for item in items}
        retry = results.failed() & {item.index for item in items}
        print(f"{len(items)} items: {len(done)} done already, {len(retry)} to retry, "
              f"{len(items) - len(done) - len(retry)} new", file=sys.stderr)
        with ProgressBar("infer", total=max(len(items) - len(done), 1)) as bar:
            def on_item(event) -> None:
                note = f"item {event.index}: {event.error[:40]}" if event.error else f"item {event.index}"
                bar.update(event.position, f"{note} ({event.failed} failed)")

            summary = run_batch(spec, items, backend, builder.build, results, on_item, on_chunk=on_chunk)
    finally:
        backend.close()
    print(f"{spec.out}: {summary.answered} answered, {summary.failed} failed, {summary.skipped} already done "
          f"({summary.total} items)")
    if summary.failed:
        print(f"rerun the same command to retry the {summary.failed} failed item(s); "
              "avr eval counts them as unanswered", file=sys.stderr)
    return 0


def _dry_run(spec, items, builder) -> int:
    from engine.io import write_text_atomic

    count_tokens = _token_counter(spec.model)
    lines = []
    for item in items:
        try:
            request = builder.build(item)
        except UserError as exc:
            lines.append({"index": item.index, "error": str(exc)})
            continue
        entry = {"index": item.index, "text": request.text, "frame_indices": list(request.frame_indices),
                 "frame_times": list(request.frame_times),
                 "audio_spans": [[s.start, s.end] for s in request.audio_spans],
                 "audio_note": request.extra.get("audio_note"), "prompt_set": request.prompt_set,
                 "prompt_hash": request.prompt_hash, "prompt_tokens": None, "request": request.to_json()}
        if count_tokens is not None:
            entry["prompt_tokens"] = count_tokens(spec.model, request, max_pixels=spec.max_pixels)
        lines.append(entry)
    write_text_atomic(spec.out, "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    first = next((line for line in lines if "text" in line), None)
    if first is not None:
        print(f"--- item {first['index']} ({first['audio_note']}; {len(first['frame_times'])} frames)", file=sys.stderr)
        print(first["text"], file=sys.stderr)
    print(f"wrote {len(lines)} rendered requests to {spec.out} (nothing was run)")
    return 0


def _token_counter(model: str | None):
    """The model processor's token count, when a model folder is given and the helper exists."""
    if not model:
        return None
    if not Path(model).is_dir():
        raise UserError(f"--model {model}: no such folder (needed to count prompt tokens)")
    try:
        from engine.backends.qwen_inputs import count_prompt_tokens
    except ImportError:
        print("token counts need engine.backends.qwen_inputs (not installed); prompt_tokens left null",
              file=sys.stderr)
        return None
    return count_prompt_tokens
