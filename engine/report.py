"""Evaluation reports for people (tables) and machines (the JSON contract of `avr eval --json`)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.benchmark import load_dataset
from engine.predictions import load_run
from engine.results import ClueReport, LongReport, Mode
from engine.scoring import Evaluation, evaluate_set, group_stats_by

_JSON_KEY = {"long": "long", "ref": "ref", "clue": "clue"}


def evaluate_path(path: Path, dataset: Path | None, mode: Mode, protocol: str | None) -> list[Evaluation]:
    """Every protocol found at `path` (one folder/file, or a run folder holding several)."""
    items = load_dataset(dataset) if dataset else None
    return [evaluate_set(pset, items, mode) for pset in load_run(Path(path), protocol).values()]


# ---------------------------------------------------------------- JSON
def render_json(evaluations: list[Evaluation]) -> str:
    """`long`/`ref`: acc, oboa (%), mae, rmse, n; `clue`: wcs (%), ifa, n, per_item (index -> % or null)."""
    out: dict = {}
    meta: dict = {}
    for ev in evaluations:
        key = _JSON_KEY[ev.pset.protocol]
        out[key] = _clue_json(ev.report) if isinstance(ev.report, ClueReport) else _long_json(ev.report)
        out[key]["unanswered"] = _index_list(ev.unanswered)
        out[key]["not_in_dataset"] = _index_list(ev.not_in_dataset)
        out[key]["missing"] = _index_list(ev.missing)
        meta[key] = {"path": str(ev.pset.path), "skipped_lines": ev.pset.skipped_lines, "warnings": ev.warnings[:50]}
    out["meta"] = meta
    return json.dumps(out, indent=1, allow_nan=False)


def _index_list(indices: list[int]) -> dict:
    return {"n": len(indices), "indices": indices}


def _long_json(r: LongReport) -> dict:
    per_item = {str(i): s.abs_error for i, s in r.per_item.items()}
    return {"acc": r.acc, "oboa": r.oboa, "mae": r.mae, "rmse": r.rmse, "n": r.n,
            "parse_failures": r.parse_failures, "per_item_abs_error": per_item}


def _clue_json(r: ClueReport) -> dict:
    per_item = {str(i): (None if s.failed else 100 * s.score) for i, s in r.per_item.items()}
    return {"wcs": r.wcs, "ifa": r.ifa, "n": r.n, "per_item": per_item}


# ---------------------------------------------------------------- tables
_LONG_COLUMNS = (("acc", "Acc %"), ("oboa", "OBOA %"), ("mae", "MAE"), ("rmse", "RMSE"))
_CLUE_COLUMNS = (("wcs", "WCS %"), ("ifa", "IFA"))


def render_tables(evaluations: list[Evaluation], groups: list[str], n_boot: int = 1000) -> str:
    """One block per protocol: the headline numbers, then each grouping with 95% bootstrap CIs."""
    blocks = []
    for ev in evaluations:
        blocks.append(_headline(ev))
        columns = _CLUE_COLUMNS if isinstance(ev.report, ClueReport) else _LONG_COLUMNS
        by_key = group_stats_by(ev.report, ev.items.values(), groups, n_boot=max(n_boot, 1))
        for key in groups:
            stats = by_key[key]
            if set(stats) <= {"all", "unspecified"}:
                continue  # the items carry no such field: a table would only repeat "all"
            blocks.append(_group_table(key, stats, columns, with_ci=n_boot > 0))
        if ev.warnings:
            more = f" (+{len(ev.warnings) - 5} more)" if len(ev.warnings) > 5 else ""
            blocks.append("warnings:\n  " + "\n  ".join(ev.warnings[:5]) + more)
    return "\n\n".join(blocks)


def _headline(ev: Evaluation) -> str:
    r = ev.report
    where = f"{ev.pset.protocol} protocol  {ev.pset.path}  (skipped lines: {ev.pset.skipped_lines})"
    left_out = _left_out(ev)
    if isinstance(r, ClueReport):
        failures = sum(s.failed for s in r.per_item.values())
        return (f"{where}\n  WCS {r.wcs:.2f}   IFA {r.ifa:.4f}   N {r.n}   (instruction-following failures: {failures})"
                + left_out)
    return (f"{where}\n  Acc {r.acc:.2f}%   OBOA {r.oboa:.2f}%   MAE {r.mae:.4f}   RMSE {r.rmse:.4f}   "
            f"N {r.n}   (unparsed counts: {r.parse_failures})" + left_out)


def _left_out(ev: Evaluation) -> str:
    """A line naming the items not in N: unanswered, not in the dataset, missing."""
    parts = [f"{label} {len(indices)} {_first(indices)}" for label, indices in
             (("unanswered", ev.unanswered), ("not in dataset", ev.not_in_dataset), ("no prediction", ev.missing))
             if indices]
    return "\n  left out: " + ";  ".join(parts) if parts else ""


def _first(indices: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, indices[:limit]))
    return f"({shown}{', ...' if len(indices) > limit else ''})"


def _group_table(key: str, stats: dict, columns: tuple, with_ci: bool) -> str:
    header = [key, "N"] + [label for _, label in columns]
    rows = [header]
    for name in sorted(stats, key=lambda n: (n != "all", n)):
        s = stats[name]
        cells = [name, str(s.n)]
        for metric, _ in columns:
            value = s.metrics[metric]
            ci = s.ci[metric]
            cells.append(f"{value:.2f} [{ci.low:.2f}, {ci.high:.2f}]" if with_ci else f"{value:.2f}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


# ---------------------------------------------------------------- one item
def render_item(ev: Evaluation, index: int) -> str:
    """The per-instance breakdown of one item: clusters, frames, matched pairs and their IoU."""
    score = ev.report.per_item.get(index)
    if score is None and index in ev.pset.unanswered:
        return f"item {index}: unanswered by the model ({ev.pset.unanswered[index]}), left out of {ev.pset.path}"
    if score is None:
        return f"item {index}: no prediction in {ev.pset.path}"
    record = ev.pset.records[index]
    lines = [f"item {index} ({score.category}), {ev.pset.protocol} protocol", f"  model text: {str(record.pred)[:300]!r}"]
    if isinstance(ev.report, LongReport):
        lines.append(f"  gt {score.gt}  count {score.count}  |error| {score.abs_error}"
                     + (f"  (unparsed: {score.reason})" if score.reason else ""))
        return "\n".join(lines)
    lines.append(f"  score {100 * score.score:.4f}" + (f"  FAILED: {score.reason}" if score.failed else ""))
    for cluster in score.clusters:
        lines.append(f"  cluster {cluster.gt_cluster} -> {cluster.pred_label or '-'}: score {100 * cluster.score:.2f}")
        for f in cluster.frames:
            where = "timeline" if f.frame < 0 else f"frame {f.frame + 1} @ {f.timestamp}s"
            lines.append(f"    {where}: GT {f.n_gt}, pred {f.n_pred}, LA {f.la:.4f}, CAP {f.cap:.4f}, score {f.score:.4f}")
            for m in f.matches:
                lines.append(f"      gt {_dash(m.gt)} ~ pred {_dash(m.pred)}  IoU {m.iou:.3f}  {m.kind}")
    return "\n".join(lines)


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)
