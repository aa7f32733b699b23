"""`avr`: the headless command line. Imports stay light (no torch, transformers or Qt)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.errors import UserError


def _eval_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score predictions (benchmark layout or JSONL)")
    p.add_argument("--predictions", required=True, type=Path,
                   help="protocol folder (long_acc/ref_acc/clue_acc), a run folder holding them, or a JSONL file")
    p.add_argument("--dataset", type=Path, help="benchmark JSON; items are taken from it instead of each line's input")
    p.add_argument("--mode", choices=("official", "strict"), default="official")
    p.add_argument("--protocol", choices=("long", "ref", "clue"), help="override protocol detection")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--by", default="category,modality",
                   help="comma-separated grouping fields for the breakdown tables (default: category,modality)")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the 95%% CIs (0: none)")
    p.add_argument("--explain", type=int, metavar="INDEX", help="print one item's per-instance breakdown")
    p.set_defaults(run=_run_eval)


def _run_eval(args: argparse.Namespace) -> int:
    from engine.report import evaluate_path, render_item, render_json, render_tables

    evaluations = evaluate_path(args.predictions, args.dataset, args.mode, args.protocol)
    if args.explain is not None:
        print("\n\n".join(render_item(ev, args.explain) for ev in evaluations))
    elif args.json:
        print(render_json(evaluations))
    else:
        groups = [g for g in args.by.split(",") if g]
        print(render_tables(evaluations, groups, n_boot=args.boot))
    return 0


def _synth_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="write a synthetic audio-visual counting benchmark")
    p.add_argument("out", type=Path)
    p.add_argument("--videos", type=int, default=4)
    p.add_argument("--minutes", type=float, default=2.0, help="length of each video (max 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--with-predictions", action="store_true", help="also write noisy-oracle prediction runs")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from engine.synth import SynthConfig, generate_benchmark

    width, height = _parse_size(args.size)
    config = SynthConfig(videos=args.videos, minutes=args.minutes, seed=args.seed, width=width, height=height,
                         fps=args.fps, with_predictions=args.with_predictions)
    try:
        config.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from engine.progress import ProgressBar

    with ProgressBar("synth") as bar:
        result = generate_benchmark(args.out, config, progress=bar.fraction_callback())
    print(f"wrote {len(result.items)} items to {result.dataset_path}")
    print(f"videos: {result.videos_dir}")
    if result.predictions_dir:
        print(f"predictions: {result.predictions_dir}")
    return 0


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like 1280x720, got {text!r}") from None
    return width, height


def _demo_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-report", help="build the demo benchmark (cached) and print its headless report")
    p.add_argument("--out", type=Path, help="where to build it (default: the user data dir)")
    p.add_argument("--mode", choices=("official", "strict"), default="official")
    p.set_defaults(run=_run_demo_report)


def _run_demo_report(args: argparse.Namespace) -> int:
    from engine.demo import demo_dir, ensure_demo
    from engine.progress import ProgressBar
    from engine.report import evaluate_path, render_tables

    out = args.out or demo_dir()
    with ProgressBar("demo") as bar:
        demo = ensure_demo(out, progress=bar.fraction_callback())
    print(f"Demo benchmark: {demo.dataset}  (scoring mode: {args.mode})\n")
    for run in demo.runs:
        print(f"=== run: {run.name} ===")
        print(render_tables(evaluate_path(run, demo.dataset, args.mode, None), ["category", "modality"]))
        print()
    if args.mode == "official":
        print("Note: the official rule reads counts with word2number on the whole answer, so a thinking run's\n"
              "<answer>-tagged counts score 0; `avr demo-report --mode strict` reads the tags.")
        print()
    return 0


def _escape_unencodable_output() -> None:
    """Model text and item fields may hold characters the terminal cannot encode (a lone surrogate
    from a JSON escape, say): print them as backslash escapes instead of failing mid-report."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


# Command modules under engine/commands/, each with add_parser(subparsers).
_COMMAND_MODULES: tuple[str, ...] = (
    "engine.commands.infer",
    "engine.commands.dev",
    "engine.commands.train",
    "engine.commands.compare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avr", description="AV-Reasoner Studio command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_eval_parser, _synth_parser, _demo_parser):
        add(sub)
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _escape_unencodable_output()
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as exc:
        print(f"avr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\navr {args.command}: interrupted; results written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
