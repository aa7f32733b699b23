"""The weight-free `baseline` backend against the best constant answer, on a fresh synth benchmark.

The baseline was developed on `avr synth` seed 3 only; the default seed here (2026) was never
used while writing it. The constant answers are chosen with the ground truth of this very
benchmark (the best a fixed text can do here), so the comparison favours the constant.

    .venv/bin/python benchmarks/bench_baseline.py [--seed 2026] [--videos 6] [--minutes 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.benchmark import load_dataset  # noqa: E402
from engine.scoring import evaluate_clue, evaluate_long  # noqa: E402


def avr(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "engine.cli", *args], check=True, stdout=subprocess.DEVNULL)


def count_metrics(items, preds: list[str]) -> dict:
    report = evaluate_long(zip(items, preds, [i.answer for i in items], strict=True), "official")
    return {"acc": report.acc, "oboa": report.oboa, "mae": report.mae}


def clue_wcs(items, preds: list[str]) -> float:
    return evaluate_clue(zip(items, preds, strict=True), "official").wcs


def best_constant_counts(items) -> dict:
    """For each metric, the best value any single count 0..30 reaches on this benchmark."""
    table = {c: count_metrics(items, [str(c)] * len(items)) for c in range(31)}
    best_acc = max(table, key=lambda c: (table[c]["acc"], table[c]["oboa"]))
    best_oboa = max(table, key=lambda c: table[c]["oboa"])
    best_mae = min(table, key=lambda c: table[c]["mae"])
    return {"acc": table[best_acc]["acc"], "acc_answer": best_acc, "oboa": table[best_oboa]["oboa"],
            "oboa_answer": best_oboa, "mae": table[best_mae]["mae"], "mae_answer": best_mae}


def constant_clue_texts(duration: float, width: int, height: int) -> list[str]:
    texts = ["[]", "{}"]
    for k in range(1, 16):
        step = duration / k
        texts.append(json.dumps([[round(i * step, 2), round((i + 1) * step, 2)] for i in range(k)]))
        texts.append(json.dumps([[round((i + 0.4) * step, 2), round((i + 0.6) * step, 2)] for i in range(k)]))
    full = [0, 0, width - 1, height - 1]
    for k in range(1, 6):
        texts.append(json.dumps({f"Frame{i + 1}": [full] for i in range(k)}))
        texts.append(json.dumps({f"Frame{i + 1}": [{"bbox": full, "label": "a"}] for i in range(k)}))
    return [f"<answer>{t}</answer>" for t in texts]


def best_constant_clue(items, duration: float, width: int, height: int) -> tuple[float, str]:
    scored = [(clue_wcs(items, [text] * len(items)), text) for text in constant_clue_texts(duration, width, height)]
    return max(scored)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="avr-bench-baseline-"))
    bench = work / f"synth-seed{args.seed}"
    if not (bench / "dataset.json").exists():
        avr("synth", str(bench), "--videos", str(args.videos), "--minutes", str(args.minutes),
            "--seed", str(args.seed), "--size", args.size)
    items = load_dataset(bench / "dataset.json")
    width, height = (int(v) for v in args.size.split("x"))
    results: dict = {"seed": args.seed, "items": len(items), "videos": args.videos, "minutes": args.minutes}
    for protocol in ("long", "ref", "clue"):
        out = work / f"baseline-{protocol}-seed{args.seed}.jsonl"
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        avr("infer", "--backend", "baseline", "--dataset", str(bench / "dataset.json"), "--videos",
            str(bench / "videos"), "--protocol", protocol, "--out", str(out))
        seconds = time.perf_counter() - start
        rows = {row["index"]: row for row in map(json.loads, out.read_text().splitlines())}
        preds = [rows[item.index]["pred"] for item in items]
        if protocol == "clue":
            wcs, text = best_constant_clue(items, args.minutes * 60, width, height)
            results[protocol] = {"baseline_wcs": clue_wcs(items, preds), "constant_wcs": wcs,
                                 "constant_answer": text[:80], "seconds": round(seconds, 1)}
        else:
            results[protocol] = {"baseline": count_metrics(items, preds), "constant": best_constant_counts(items),
                                 "seconds": round(seconds, 1)}
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"synth seed {args.seed}: {len(items)} items, {args.videos} videos x {args.minutes} min, {args.size}")
    for protocol in ("long", "ref"):
        r = results[protocol]
        b, c = r["baseline"], r["constant"]
        print(f"{protocol:5s} baseline Acc {b['acc']:5.1f}  OBOA {b['oboa']:5.1f}  MAE {b['mae']:.2f}   | best constant: "
              f"Acc {c['acc']:5.1f} (\"{c['acc_answer']}\")  OBOA {c['oboa']:5.1f} (\"{c['oboa_answer']}\")  "
              f"MAE {c['mae']:.2f} (\"{c['mae_answer']}\")   [{r['seconds']} s]")
    r = results["clue"]
    print(f"clue  baseline WCS {r['baseline_wcs']:5.1f}   | best constant WCS {r['constant_wcs']:5.1f} "
          f"({r['constant_answer']})   [{r['seconds']} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
