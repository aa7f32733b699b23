"""`avr train`: hands the run to `python -m training` in a child process.

`engine` never imports `training` (so `avr eval` stays light): this module only builds the child's
command line, forwards SIGINT/SIGTERM to it once (the child stops at the next step boundary with a
checkpoint) and exits with the child's code. The child runs in its own session so a terminal's
Ctrl-C reaches it only through this forwarding, exactly once.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

from engine.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train with the AV-Reasoner recipe (SFT -> curriculum GRPO -> full-task GRPO)")
    p.add_argument("--config", type=Path, help="pipeline YAML (see resources/stages/)")
    p.add_argument("--out", type=Path, help="new run folder (must be empty or absent)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--check", action="store_true", help="validate --config only (loads no model)")
    p.add_argument("--json", action="store_true", help="with --check: print one JSON object")
    p.set_defaults(run=run_train)


def child_argv(args: argparse.Namespace) -> list[str]:
    """The `python -m training` command line for these arguments (UserError when they do not fit)."""
    if args.check:
        if args.config is None or args.resume is not None or args.out is not None:
            raise UserError("--check takes --config FILE (and optionally --json) only")
        return [sys.executable, "-m", "training", "check", str(args.config), *(["--json"] if args.json else [])]
    if args.json:
        raise UserError("--json goes with --check")
    if args.resume is not None:
        if args.config is not None or args.out is not None:
            raise UserError("--resume RUN_DIR uses the config saved in the run; give no --config or --out")
        return [sys.executable, "-m", "training", "resume", str(args.resume)]
    if args.config is None or args.out is None:
        raise UserError("give --config FILE --out DIR, --resume DIR, or --check --config FILE")
    return [sys.executable, "-m", "training", "start", str(args.config), str(args.out)]


def run_train(args: argparse.Namespace) -> int:
    return run_child(child_argv(args))


def run_child(argv: list[str]) -> int:
    """Run the trainer, forwarding SIGINT/SIGTERM; the child's exit code (128+N if killed by signal N)."""
    child = subprocess.Popen(argv, start_new_session=True)

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code
