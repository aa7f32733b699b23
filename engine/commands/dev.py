"""`avr dev`: developer tools (the tiny offline Qwen2.5-Omni, the full-layout re-wrap)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="developer tools: tiny offline model, checkpoint layouts")
    dev_sub = p.add_subparsers(dest="dev_command", required=True)

    tiny = dev_sub.add_parser("tiny-model", help="write a tiny random Qwen2.5-Omni (thinker) + processor, offline")
    tiny.add_argument("out", type=Path, help="new or empty folder")
    tiny.add_argument("--full-layout", action="store_true",
                      help="write a full Qwen2_5OmniForConditionalGeneration checkpoint (what vLLM serves)")
    tiny.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    tiny.add_argument("--family", choices=("qwen2.5-omni", "qwen3-omni"), default="qwen2.5-omni",
                      help="which omni model to build (default qwen2.5-omni; qwen3-omni: a tiny MoE thinker)")
    tiny.set_defaults(run=_run_tiny_model)

    full = dev_sub.add_parser("full-layout", help="re-wrap a thinker checkpoint (a fine-tune, or a LoRA adapter on one) as a full one")
    full.add_argument("thinker_dir", type=Path)
    full.add_argument("out", type=Path, help="new or empty folder")
    full.set_defaults(run=_run_full_layout)


def _run_tiny_model(args: argparse.Namespace) -> int:
    from engine.dev.tiny_model import build_tiny_model

    family = args.family.replace(".", "_").replace("-", "_")
    out = build_tiny_model(args.out, full_layout=args.full_layout, seed=args.seed, family=family)
    name = "Qwen2.5-Omni" if family == "qwen2_5_omni" else "Qwen3-Omni"
    layout = f"full {name}" if args.full_layout else f"{name} thinker"
    print(f"wrote a tiny {layout} with its processor to {out}")
    return 0


def _run_full_layout(args: argparse.Namespace) -> int:
    from engine.dev.full_layout import wrap_full_layout

    out = wrap_full_layout(args.thinker_dir, args.out)
    print(f"wrote the full-layout checkpoint to {out}")
    return 0
