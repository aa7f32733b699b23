"""A small real job for the job-runner tests: appends one JSON row per item, resumably.

Run by path (`python rows_job.py --out FILE --items N`). It skips indices already in FILE, so a
second run resumes; flags make it fail, ignore SIGTERM, tear lines, spawn a child or report
progress events on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time


def done_indices(path: str) -> set[int]:
    if not os.path.exists(path):
        return set()
    indices = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                indices.add(json.loads(line)["index"])
            except (ValueError, KeyError):
                pass
    return indices


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--fail-at", type=int, default=-1)
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--torn", action="store_true")
    parser.add_argument("--spawn-child", default="")
    parser.add_argument("--progress-events", action="store_true")
    args = parser.parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.spawn_child:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(args.spawn_child, "w") as handle:
            handle.write(str(child.pid))
    print(f"starting {args.items} items", flush=True)
    skip = done_indices(args.out) if args.out else set()
    for index in range(args.items):
        if index in skip:
            continue
        time.sleep(args.delay)
        if index == args.fail_at:
            print(f"error: boom at item {index}", file=sys.stderr, flush=True)
            return 3
        row = {"index": index, "pred": f"answer {index}" * 20, "nice": os.getpriority(os.PRIO_PROCESS, 0),
               "threads": os.environ.get("OMP_NUM_THREADS")}
        if args.out:
            write_row(args.out, json.dumps(row) + "\n", args.torn, args.delay)
        if args.progress_events:
            print(json.dumps({"event": "chunk", "index": index, "text": f"thinking about {index}"}), flush=True)
            event = {"event": "progress", "done": index + 1, "total": args.items}
            print(json.dumps(event), file=sys.stderr, flush=True)
    print("all done", flush=True)
    return 0


def write_row(path: str, line: str, torn: bool, delay: float) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        if torn:
            half = len(line) // 2
            handle.write(line[:half])
            handle.flush()
            time.sleep(max(delay, 0.25))  # longer than the runner's poll interval
            line = line[half:]
        handle.write(line)
        handle.flush()


if __name__ == "__main__":
    sys.exit(main())
