"""`avr compare RUN_A RUN_B`: the paired comparison of two runs, as tables or one strict-JSON object."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from engine.compare import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    PairedStats,
    ProtocolComparison,
    compare_reports,
    finite_or_none,
    looks_thinking,
    thinking_note,
)
from engine.errors import UserError
from engine.predictions import PROTOCOLS
from engine.scoring import Evaluation

_LABELS = {"acc": "Acc %", "oboa": "OBOA %", "mae": "MAE", "rmse": "RMSE", "wcs": "WCS %", "ifa": "IFA"}


@dataclass(frozen=True)
class RunComparison:
    """Everything `avr compare` reports: both runs, the mode, the bootstrap set-up, per protocol."""

    name_a: str
    name_b: str
    mode: str
    resamples: int
    seed: int
    protocols: tuple[ProtocolComparison, ...]
    thinking: tuple[str, ...]
    unpaired_protocols: tuple[str, ...]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="paired comparison of two runs on the same items (B - A)")
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="anything `avr eval --predictions` takes")
    p.add_argument("run_b", type=Path, metavar="RUN_B")
    p.add_argument("--dataset", type=Path, help="benchmark JSON; items are taken from it instead of each line's input")
    p.add_argument("--protocol", choices=PROTOCOLS, help="compare this protocol only (default: those both runs have)")
    p.add_argument("--mode", choices=("official", "strict"), default="official")
    p.add_argument("--json", action="store_true", help="print one strict-JSON object instead of tables")
    p.add_argument("--boot", type=int, default=DEFAULT_RESAMPLES, help="paired bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.boot < 1:
        raise UserError("--boot must be at least 1")
    result = compare_paths(args.run_a, args.run_b, args.dataset, args.protocol, args.mode, args.boot, args.seed)
    print(render_json(result) if args.json else render_tables(result))
    return 0


def compare_paths(path_a: Path, path_b: Path, dataset: Path | None, protocol: str | None, mode: str,
                  resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> RunComparison:
    """Score both runs as `avr eval` does and compare every protocol they share."""
    from engine.report import evaluate_path

    evals_a = {ev.pset.protocol: ev for ev in evaluate_path(path_a, dataset, mode, protocol)}
    evals_b = {ev.pset.protocol: ev for ev in evaluate_path(path_b, dataset, mode, protocol)}
    shared = [p for p in PROTOCOLS if p in evals_a and p in evals_b]
    if not shared:
        raise UserError(f"the runs share no protocol ({path_a}: {', '.join(evals_a)}; {path_b}: {', '.join(evals_b)})")
    name_a, name_b = _names(evals_a, evals_b)
    comparisons = tuple(
        compare_reports(p, evals_a[p].report, evals_b[p].report, {**evals_b[p].items, **evals_a[p].items},
                        resamples, seed)
        for p in shared
    )
    thinking = tuple(name for name, evals in ((name_a, evals_a), (name_b, evals_b)) if _is_thinking(evals))
    unpaired = tuple(sorted(set(evals_a) ^ set(evals_b)))
    return RunComparison(name_a, name_b, mode, resamples, seed, comparisons, thinking, unpaired)


def _names(evals_a: dict[str, Evaluation], evals_b: dict[str, Evaluation]) -> tuple[str, str]:
    name_a = next(iter(evals_a.values())).pset.name
    name_b = next(iter(evals_b.values())).pset.name
    return (name_a, name_b) if name_a != name_b else (f"{name_a} (A)", f"{name_b} (B)")


def _is_thinking(evals: dict[str, Evaluation]) -> bool:
    return looks_thinking(r.pred for ev in evals.values() for r in ev.pset.records.values())


# ---------------------------------------------------------------- JSON
def render_json(result: RunComparison) -> str:
    """One strict-JSON object (no NaN/Infinity: non-finite values are null)."""
    out = {
        "a": result.name_a,
        "b": result.name_b,
        "mode": result.mode,
        "bootstrap": {"resamples": result.resamples, "seed": result.seed, "ci": 95, "paired": True},
        "thinking_runs": list(result.thinking),
        "note": thinking_note(result.thinking, result.mode),
        "protocols_in_one_run_only": list(result.unpaired_protocols),
        "protocols": {c.protocol: protocol_json(c) for c in result.protocols},
    }
    return json.dumps(out, indent=1, allow_nan=False)


def protocol_json(c: ProtocolComparison) -> dict:
    return {
        **stats_json(c.overall),
        "only_a": list(c.only_a),
        "only_b": list(c.only_b),
        "groups": {key: {s.name: stats_json(s) for s in stats} for key, stats in c.groups.items() if stats},
    }


def stats_json(stats: PairedStats) -> dict:
    out: dict = {"n_paired": stats.n, "metrics": {
        m.metric: {"a": finite_or_none(m.a), "b": finite_or_none(m.b), "diff": finite_or_none(m.diff),
                   "ci95": [finite_or_none(m.ci_low), finite_or_none(m.ci_high)]}
        for m in stats.metrics
    }}
    if stats.mcnemar is not None:
        out["acc_discordant"] = {"a_right_b_wrong": stats.mcnemar.a_only_right,
                                 "b_right_a_wrong": stats.mcnemar.b_only_right,
                                 "mcnemar_exact_p": stats.mcnemar.p_value}
    return out


# ---------------------------------------------------------------- tables
def render_tables(result: RunComparison) -> str:
    head = (f"A = {result.name_a}   B = {result.name_b}   mode {result.mode}\n"
            f"difference B - A on the items both runs answered; paired bootstrap 95% CI "
            f"({result.resamples} resamples, seed {result.seed}); MAE and RMSE: lower is better")
    blocks = [head]
    note = thinking_note(result.thinking, result.mode)
    if note:
        blocks.append(f"note: {note} (use --mode strict)")
    for c in result.protocols:
        blocks.append(_protocol_block(c))
    if result.unpaired_protocols:
        blocks.append(f"protocols in one run only (not compared): {', '.join(result.unpaired_protocols)}")
    return "\n\n".join(blocks)


def _protocol_block(c: ProtocolComparison) -> str:
    lines = [f"{c.protocol} protocol   paired items {c.overall.n}"]
    lines.append(_stats_table("all", [c.overall]))
    for key, stats in c.groups.items():
        if stats:
            lines.append(_stats_table(key, list(stats)))
    if c.overall.mcnemar is not None:
        m = c.overall.mcnemar
        lines.append(f"Acc discordant: A right/B wrong {m.a_only_right}, B right/A wrong {m.b_only_right}, "
                     f"exact McNemar p = {m.p_value:.4g}")
    for label, indices in (("A", c.only_a), ("B", c.only_b)):
        if indices:
            shown = ", ".join(map(str, indices[:20])) + (" ..." if len(indices) > 20 else "")
            lines.append(f"only in {label} ({len(indices)}, not paired): {shown}")
    return "\n".join(lines)


def _stats_table(key: str, stats: list[PairedStats]) -> str:
    """One row per group and metric: narrow enough for a terminal."""
    rows = [[key, "N", "metric", "A", "B", "B - A", "95% CI"]]
    for s in stats:
        for n, m in enumerate(s.metrics):
            rows.append([s.name if n == 0 else "", str(s.n) if n == 0 else "", _LABELS[m.metric],
                         f"{m.a:.2f}", f"{m.b:.2f}", f"{m.diff:+.2f}", f"[{m.ci_low:+.2f}, {m.ci_high:+.2f}]"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i in (0, 2) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)
