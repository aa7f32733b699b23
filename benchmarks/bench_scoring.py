"""Scoring speed on a benchmark-sized set (1,027 items, 5,845 clues), both protocols.

Prints our time next to a straightforward per-item reference loop (written the way
the benchmark's scripts are: re-read, re-parse, nested loops, repeated max search)
run in the same process on the same files, checks both agree, and times `avr eval`
end to end as a user runs it.

    python benchmarks/bench_scoring.py [--items 1027] [--clues 5845] [--repeat 5]

`--large` adds the large-file check: a ~50 MB clue JSONL (73,000 rows) scored by `avr eval`
with `--json` and with the tables (1,000 bootstrap resamples), wall time and peak memory
(RSS of the child process) next to the reference loop on the same file; and the parse+score
time of 5 M-character answers of several shapes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scipy.optimize import linear_sum_assignment
from word2number import w2n

from engine.predictions import load_predictions, write_prediction_folder
from engine.scoring import evaluate_set
from engine.testing import scoring_fixture


# ---------------------------------------------------------------- naive reference
def _naive_json(text):
    m = re.search(r"<answer>(.*?)</answer>", text, re.DOTALL)
    text = (m.group(1) if m else text).strip()
    try:
        return json.loads(text)
    except Exception:
        pass
    for start in range(len(text)):
        if text[start] not in "[{":
            continue
        depth = 0
        for end in range(start, len(text)):
            depth += text[end] in "[{"
            depth -= text[end] in "]}"
            if depth == 0:
                try:
                    return json.loads(text[start:end + 1])
                except Exception:
                    break
        return None
    return None


def _naive_box_iou(a, b):
    a = [min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])]
    b = [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]
    iw, ih = max(0, min(a[2], b[2]) - max(a[0], b[0])), max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _naive_frame(gt, pred):
    used_g, used_p, total = set(), set(), 0.0
    for _ in range(min(len(gt), len(pred))):
        best = max((_naive_box_iou(gt[g], pred[p]), -g, -p) for g in range(len(gt)) for p in range(len(pred))
                    if g not in used_g and p not in used_p)
        total += best[0]
        used_g.add(-best[1])
        used_p.add(-best[2])
    la = total / len(gt) if gt else 0.0
    cap = 1 - abs(len(pred) - len(gt)) / max(len(gt), 1)
    return math.sqrt(la * max(0, cap))


def _naive_frames(gt, pred):
    frames = list(dict.fromkeys(list(gt) + list(pred)))
    return sum(_naive_frame(gt.get(f, []), pred.get(f, [])) for f in frames) / len(frames) if frames else 0.0


def _naive_pred_frames(obj):
    out = {}
    for k, v in obj.items():
        if "Frame" in k:
            f = int(k.replace("Frame", "")) - 1
            if v and len(v[0]) == 4:
                out.setdefault(f, []).extend(b for b in v if len(b) == 4)
            elif v and len(v[0]) == 2:
                out.setdefault(f, []).extend(v[i] + v[i + 1] for i in range(0, len(v) - 1, 2)
                                             if len(v[i]) == 2 and len(v[i + 1]) == 2)
            else:
                out.setdefault(f, [])
    return out


def _naive_clue(item, pred):
    obj = _naive_json(pred)
    cat = item["category"]
    if cat == "event":
        p = [[float(str(x).split(" ")[0]) if isinstance(x, str) else x for x in pair] if not (
            isinstance(pair[0], str) and ":" in pair[0] and isinstance(pair[1], str) and ":" in pair[1]) else
            [sum(float(v) * 60 ** i for i, v in enumerate(reversed(x.split(":")))) for x in pair] for pair in obj]
        g = [[c["start"], c["end"]] for c in item["clue"]]

        def tiou(a, b):
            span = max(a[1], b[1]) - min(a[0], b[0])
            return max(0, min(a[1], b[1]) - max(a[0], b[0])) / span if span else 0.0
        la = sum(max((tiou(x, y) for y in p), default=0) for x in g) / len(g) if g and p else 0.0
        return math.sqrt(la * max(0, 1 - abs(len(p) - len(g)) / max(len(g), 1)))
    boxes = item["clue"] if cat == "object" else [b for cl in item["clue"] for b in cl]
    times = list(dict.fromkeys(b["timestamp"] for b in boxes))

    def gt_frames(bs):
        out = {}
        for b in bs:
            out.setdefault(times.index(b["timestamp"]), []).append(b["bbox"])
        return out
    if cat == "object":
        return _naive_frames(gt_frames(item["clue"]), _naive_pred_frames(obj))
    clusters = {}
    for k, v in obj.items():
        if "Frame" in k:
            for o in v:
                for field in ("bbox", "bbox_2d"):
                    if field in o:
                        clusters.setdefault(o["label"], {}).setdefault(int(k.replace("Frame", "")) - 1, []).append(o[field])
    if not clusters:
        return 0.0
    table = [[_naive_frames(gt_frames(cl), pc) for pc in clusters.values()] for cl in item["clue"]]
    rows, cols = linear_sum_assignment(table, maximize=True)
    return sum(table[r][c] for r, c in zip(rows, cols, strict=True)) / len(item["clue"])


def naive_reference(folder: Path) -> tuple[dict, dict]:
    """Score both protocols the straightforward way, file by file."""
    long_rows, clue_rows = [], {}
    for path in sorted((folder / "long_acc").glob("*.txt")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            try:
                count = w2n.word_to_num(rec["pred"])
            except Exception:
                count = 0
            long_rows.append(abs(rec["gt"] - count))
    for path in sorted((folder / "clue_acc").glob("*.txt")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            try:
                clue_rows[rec["input"]["index"]] = _naive_clue(rec["input"], rec["pred"])
            except Exception:
                clue_rows[rec["input"]["index"]] = None
    acc = 100 * sum(d < 1e-5 for d in long_rows) / len(long_rows)
    wcs = 100 * sum(v or 0 for v in clue_rows.values()) / len(clue_rows)
    return {"acc": acc}, {"wcs": wcs, "per_item": clue_rows}


# ---------------------------------------------------------------- ours
def ours(folder: Path):
    long_report = evaluate_set(load_predictions(folder / "long_acc")).report
    clue_report = evaluate_set(load_predictions(folder / "clue_acc")).report
    return long_report, clue_report


def _time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def write_fixture(folder: Path, n_items: int, n_clues: int) -> int:
    fx = scoring_fixture(n_items, n_clues)
    for protocol, preds in (("long_acc", fx.long_preds), ("clue_acc", fx.clue_preds)):
        write_prediction_folder(folder / protocol, ({"pred": preds[i.index], "gt": i.answer, "input": i.raw}
                                                    for i in fx.items))
    return fx.clue_count


# ---------------------------------------------------------------- large file
def write_large_jsonl(path: Path, n_items: int, clues_per_item: float) -> int:
    """One clue JSONL line per item, in the benchmark's line format (about 690 bytes a line)."""
    fx = scoring_fixture(n_items, int(n_items * clues_per_item), seed=1)
    with open(path, "w", encoding="utf-8") as handle:
        for item in fx.items:
            handle.write(json.dumps({"pred": fx.clue_preds[item.index], "gt": item.answer, "input": item.raw}) + "\n")
    return fx.clue_count


def naive_jsonl(path: Path) -> float:
    """The reference loop on a JSONL file: WCS (%)."""
    scores = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            rec = json.loads(line)
            try:
                scores.append(_naive_clue(rec["input"], rec["pred"]))
            except Exception:
                scores.append(0.0)
    return 100 * sum(s or 0 for s in scores) / len(scores)


def run_measured(args: list[str]) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, stdout) of one child process. CPU time is what
    to compare on a shared machine: wall time there depends on what else runs."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def large_report(folder: Path, n_items: int) -> None:
    path = folder / "large.jsonl"
    clues = write_large_jsonl(path, n_items, 5.69)
    size_mb = path.stat().st_size / 1e6
    eval_args = [sys.executable, "-m", "engine.cli", "eval", "--predictions", str(path), "--protocol", "clue"]
    t_json, cpu_json, mem_json, out = run_measured([*eval_args, "--json"])
    t_tables, cpu_tables, mem_tables, _ = run_measured(eval_args)
    start, cpu_start = time.perf_counter(), time.process_time()
    naive_wcs = naive_jsonl(path)
    t_naive, cpu_naive = time.perf_counter() - start, time.process_time() - cpu_start
    wcs = json.loads(out)["clue"]["wcs"]
    print(f"\nlarge file: {size_mb:.1f} MB JSONL, {n_items} clue rows, {clues} clue instances; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':34}{'wall (s)':>10}{'CPU (s)':>10}{'peak RSS (MB)':>15}")
    print(f"{'avr eval --json':34}{t_json:>10.2f}{cpu_json:>10.2f}{mem_json:>15.0f}")
    print(f"{'avr eval (tables, 1000 boot)':34}{t_tables:>10.2f}{cpu_tables:>10.2f}{mem_tables:>15.0f}")
    print(f"{'reference loop (in-process)':34}{t_naive:>10.2f}{cpu_naive:>10.2f}{'':>15}")
    print(f"WCS {wcs:.4f} (reference {naive_wcs:.4f})")


def huge_answers(n_chars: int = 5_000_000) -> dict[str, str]:
    """Answers of about n_chars characters in shapes that used to be slow or large."""
    box = "[10, 20, 110, 220], "
    return {
        "'<answer>' repeated": "<answer>" * (n_chars // 8),
        "digits then 'a1' (strict)": "1" * (n_chars - 2) + "a1",
        "'[x]' blocks": "[x]" * (n_chars // 3),
        "'[[[[x]]]]' blocks (depth 4)": "[[[[x]]]]" * (n_chars // 9),
        "'[}' resets": "[}" * (n_chars // 2),
        "'[[\"x\" 1]]' blocks (quotes)": '[["x" 1]]' * (n_chars // 9),
        "unclosed '['": "[" * n_chars,
        "object, one frame of boxes": '{"Frame1": [' + box * (n_chars // len(box) - 1) + "[1, 2, 3, 4]]}",
        "event pairs": "[" + "[1.5, 2.5], " * (n_chars // 12 - 1) + "[1, 2]]",
        "prose": "I count the things in the video. " * (n_chars // 33),
        "distinct blocks 9 deep": "".join("[" * 9 + f"x{i}" + "]" * 9 for i in range(n_chars // 24)),
        "distinct kinds 10 deep": "".join(
            "".join("[{"[(i >> j) & 1] for j in range(10)) + "x"
            + "".join("]}"[(i >> j) & 1] for j in reversed(range(10))) for i in range(n_chars // 21)),
        "'[a' chain then ']a'": "[a" * (n_chars // 4) + "]a" * (n_chars // 4),
        "one block 2.5 M deep": "[" * (n_chars // 2) + "]" * (n_chars // 2),
        "20 deep then mismatch": ("[" * 20 + "}") * (n_chars // 21),
        "staircase 9 up 8 down": ("[" * 9 + "]" * 8) * (n_chars // 17),
        "'[x]' inside a deep block": "[" * 20 + "[x]" * (n_chars // 3) + "]" * 20,
        "'[[\"x1\" \"]\"]' (string brackets)": "".join(f'[["x{i}" "]"]' for i in range(n_chars // 14)),
        "10 deep, 2 blocks alternating": ("[" * 10 + "a" + "]" * 10 + "[" * 10 + "b" + "]" * 10) * (n_chars // 42),
        "10 deep '[\"a1\":1]' (tokens ok)": "".join("[" * 10 + f'"a{i}":1' + "]" * 10 for i in range(n_chars // 30)),
        "'[a' 12 deep, mismatch": "".join("[a" * 12 + f"x{i}" + "]a" * 3 + "}" for i in range(n_chars // 38)),
    }


def huge_report() -> None:
    from engine.benchmark import item_from_json
    from engine.bulk import acyclic_bulk_work
    from engine.scoring import score_clue, score_count

    rng_items = scoring_fixture(3, 3, seed=2).items
    object_item = item_from_json({**rng_items[0].raw, "category": "object", "answer": 2, "clue": [
        {"timestamp": 1.0, "bbox": [10, 20, 110, 220]}, {"timestamp": 1.0, "bbox": [300, 20, 400, 220]}]})
    event_item = item_from_json({**rng_items[0].raw, "category": "event", "answer": 2, "clue": [
        {"start": 1.0, "end": 2.0}, {"start": 5.0, "end": 7.0}]})
    print("\n5 M-character answers: parse + score, CPU seconds (wall depends on the machine's other load), "
          "as evaluate_set runs them (cyclic GC paused)")
    print(f"{'shape':30}{'clue (object)':>15}{'clue (event)':>14}{'count strict':>14}")
    for name, text in huge_answers().items():
        times = []
        for fn, args in ((score_clue, (object_item, text, "strict")), (score_clue, (event_item, text, "strict")),
                         (score_count, (object_item, text, None, "strict"))):
            with acyclic_bulk_work():
                start = time.process_time()
                fn(*args)
                times.append(time.process_time() - start)
        print(f"{name:30}{times[0]:>15.3f}{times[1]:>14.3f}{times[2]:>14.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1027)
    parser.add_argument("--clues", type=int, default=5845)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--large", action="store_true", help="also the 50 MB file and the 5 M-character answers")
    parser.add_argument("--large-items", type=int, default=73_000)
    parser.add_argument("--only-large", action="store_true", help="skip the benchmark-sized comparison")
    args = parser.parse_args()
    if args.large or args.only_large:
        with tempfile.TemporaryDirectory() as tmp:
            large_report(Path(tmp), args.large_items)
        huge_report()
        if args.only_large:
            return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clues = write_fixture(folder, args.items, args.clues)
        t_ours, (long_r, clue_r) = _time(lambda: ours(folder), args.repeat)
        t_naive, (naive_long, naive_clue) = _time(lambda: naive_reference(folder), args.repeat)
        agree = all(abs((100 * s.score if not s.failed else 0) - 100 * (naive_clue["per_item"][i] or 0)) < 1e-7
                    for i, s in clue_r.per_item.items())
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "engine.cli", "eval", "--predictions", str(folder), "--json"],
                              capture_output=True, text=True, check=True)
        t_cli = time.perf_counter() - start
        cli = json.loads(proc.stdout)
    print(f"items {args.items}, clue instances {clues}, median of {args.repeat} runs (in-process, both protocols)")
    print(f"{'':28}{'ours':>10}{'reference loop':>18}{'speed-up':>10}")
    print(f"{'score long + clue (s)':28}{t_ours:>10.3f}{t_naive:>18.3f}{t_naive / t_ours:>9.1f}x")
    print(f"{'avr eval --json, wall (s)':28}{t_cli:>10.3f}")
    print(f"WCS {clue_r.wcs:.4f} (reference {naive_clue['wcs']:.4f}), Acc {long_r.acc:.2f} "
          f"(reference {naive_long['acc']:.2f}); per-item agreement: {'yes' if agree else 'NO'}; "
          f"CLI WCS {cli['clue']['wcs']:.4f}")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
