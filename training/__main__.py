"""`python -m training start CONFIG RUN_DIR | resume RUN_DIR | check CONFIG [--json]` (what `avr train` runs).

Exit codes: 0 done (or config valid), 1 failed (the error is in status.json and train.log),
2 user error (bad config, non-empty folder; one line on stderr), 3 stopped by SIGINT/SIGTERM
(a checkpoint was written at the last step boundary; `--resume` continues).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import UserError

EXIT_DONE, EXIT_FAILED, EXIT_USER_ERROR, EXIT_STOPPED = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start")
    start.add_argument("config", type=Path)
    start.add_argument("out", type=Path)
    resume = sub.add_parser("resume")
    resume.add_argument("run_dir", type=Path)
    check = sub.add_parser("check")
    check.add_argument("config", type=Path)
    check.add_argument("--json", action="store_true")
    return parser


def check(config_path: Path, as_json: bool) -> int:
    from training.config import ConfigError, device_warnings, load_config, path_warnings

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        if as_json:
            print(json.dumps({"ok": False, "config": str(config_path),
                              "errors": [{"path": p, "message": m} for p, m in exc.problems], "warnings": []}))
        else:
            for path, message in exc.problems:
                print(f"{config_path}: {path + ': ' if path else ''}{message}", file=sys.stderr)
        return EXIT_USER_ERROR
    warnings = path_warnings(config) + device_warnings(config)
    stages = [{"name": s.name, "kind": s.kind, "tasks": list(s.tasks)} for s in config.stages]
    if as_json:
        print(json.dumps({"ok": True, "config": str(config_path), "errors": [], "warnings": warnings,
                          "stages": stages}))
    else:
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"{config_path}: valid ({len(stages)} stages: {', '.join(s['name'] for s in stages)})")
    return EXIT_DONE


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return check(args.config, args.json)
        from training.stages import resume_run, start_run

        if args.command == "start":
            return start_run(args.config, args.out, sys.argv)
        return resume_run(args.run_dir)
    except UserError as exc:
        print(f"avr train: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
