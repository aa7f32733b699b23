"""What the Engine tab knows about one training run, read only from its run folder (no Qt, no training import).

The trainer's contract (docs/training.md): `status.json` (states, steps, pid, heartbeat), `metrics.jsonl`,
`completions.jsonl`, `filter.jsonl`, `train.log`, `checkpoints/<stage>/checkpoint-<step>/`. Every JSONL
file and the log are tailed through `FileTail`: a poll reads only the bytes appended since the last one,
so a 100k-row metrics file costs its size once, then only its growth. A corrupt line, a folder that is
gone and a trainer whose heartbeat stopped become messages, never exceptions.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from avr_studio.workers.tail import FileTail, parse_json_lines
from engine.processes import pid_alive

#: The trainer rewrites status.json at least every 10 s while it lives: older than this means dead.
STALE_HEARTBEAT_S = 30.0
#: Bytes per poll slice: a 35 MB metrics file loads in ~280 slices of a few ms of parsing each.
SLICE_BYTES = 128 * 1024
#: The curves the tab draws: metric key -> panel.
PANEL_KEYS = {"loss": "loss", "kl": "kl", "completions/mean_length": "length"}
REWARD_PREFIX, REWARD_SUFFIX = "rewards/", "/mean"


@dataclass(frozen=True)
class StageRow:
    """One stage as the pipeline table shows it."""

    name: str
    kind: str
    state: str
    step: int
    total_steps: int | None
    eta_s: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Liveness:
    """How the run stands: the status file's state, unless the trainer is gone (`dead`) or the folder is."""

    state: str  # pending, running, done, failed, stopped, dead, missing, unreadable
    message: str
    pid: int | None = None
    heartbeat_age_s: float | None = None

    @property
    def live(self) -> bool:
        return self.state == "running"


def judge_liveness(root: Path, status: dict | None, now: float | None = None) -> Liveness:
    """A `running` status counts only with a live pid and a fresh heartbeat."""
    if not root.is_dir():
        return Liveness("missing", f"run folder {root} does not exist")
    if status is None:
        return Liveness("missing", f"{root} holds no status.json: not a training run folder (yet)")
    state = str(status.get("state", "unknown"))
    pid = status.get("pid") if isinstance(status.get("pid"), int) else None
    beat = status.get("heartbeat_unix")
    age = (now or time.time()) - float(beat) if isinstance(beat, int | float) else None
    if state == "running":
        if not pid_alive(pid):
            return Liveness("dead", f"trainer pid {pid} is gone but the run says running (killed?): "
                                    "Resume continues from the last checkpoint", pid, age)
        if age is None or age > STALE_HEARTBEAT_S:
            shown = "never" if age is None else f"{age:.0f} s ago"
            return Liveness("dead", f"heartbeat stale (last {shown}, pid {pid}): the trainer looks hung or dead",
                            pid, age)
        return Liveness("running", f"running (pid {pid}, heartbeat {age:.0f} s ago)", pid, age)
    if state == "failed":
        return Liveness("failed", f"training failed: {status.get('error') or 'see train.log'}", pid, age)
    messages = {"done": "run done", "stopped": "stopped; Resume continues from the last checkpoint",
                "pending": "pending (the trainer is starting)"}
    return Liveness(state, messages.get(state, state), pid, age)


class GrowingArray:
    """An append-only float array with amortised O(1) appends (numpy views for drawing)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self.size = 0

    def extend(self, values: Iterable[float]) -> None:
        values = np.fromiter(values, dtype=np.float64)
        need = self.size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)), dtype=np.float64)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size: need] = values
        self.size = need

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.size]


@dataclass
class Series:
    """One metric over global steps (stage boundaries are drawn separately), with its smoothed values
    kept up to date incrementally: a redraw costs the new rows, not the whole history."""

    steps: GrowingArray = field(default_factory=GrowingArray)
    values: GrowingArray = field(default_factory=GrowingArray)
    _smoothed: GrowingArray = field(default_factory=GrowingArray)
    _weight: float = -1.0
    _ema: tuple[float, float] = (0.0, 1.0)

    def add(self, pairs: list[tuple[float, float]]) -> None:
        self.steps.extend(p[0] for p in pairs)
        self.values.extend(p[1] for p in pairs)

    def smoothed(self, weight: float) -> np.ndarray:
        """TensorBoard's debiased exponential moving average (weight 0: the raw values)."""
        if weight <= 0:
            return self.values.values
        if weight != self._weight:
            self._smoothed, self._weight, self._ema = GrowingArray(), weight, (0.0, 1.0)
        new = self.values.values[self._smoothed.size:]
        if len(new):
            out, self._ema = smooth(new, weight, self._ema)
            self._smoothed.extend(out)
        return self._smoothed.values


def smooth(values: np.ndarray, weight: float, state: tuple[float, float] = (0.0, 1.0)
           ) -> tuple[np.ndarray, tuple[float, float]]:
    """The debiased EMA of `values` continuing from `state` (last average, weight**n); the new state."""
    out = np.empty_like(values)
    last, debias = state
    for i, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            out[i] = value
            continue
        last = last * weight + (1 - weight) * value
        debias *= weight
        out[i] = last / (1 - debias)
    return out, (last, debias)


def curve_key(metric: str) -> str | None:
    """Which panel a metrics key belongs to (`reward:<fn>` for per-function rewards), None if not drawn."""
    if metric in PANEL_KEYS:
        return metric
    if metric.startswith(REWARD_PREFIX) and metric.endswith(REWARD_SUFFIX):
        return metric
    return None


def reward_name(metric: str) -> str:
    return metric[len(REWARD_PREFIX): -len(REWARD_SUFFIX)]


@dataclass(frozen=True)
class Update:
    """What one poll found: new rows and lines, and problems to show."""

    metrics: tuple[dict, ...] = ()
    completions: tuple[dict, ...] = ()
    filters: tuple[dict, ...] = ()
    log_lines: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    status_changed: bool = False
    reset: bool = False

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.completions or self.filters or self.log_lines or self.problems
                    or self.status_changed or self.reset)


class TrainRun:
    """A run folder followed incrementally. `poll()` reads what is new; the fields hold what was read."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.status: dict | None = None
        self.series: dict[str, Series] = {}
        self.stage_starts: dict[str, float] = {}  # stage -> first global step
        self.stage_times: dict[str, list[tuple[float, int]]] = {}  # stage -> [(unix time, step)] for ETA
        self.filters: list[dict] = []
        self.latest_completions: list[dict] = []
        self.metric_rows = 0
        self.bad_lines = 0
        self._tails = {name: FileTail(self.root / name, SLICE_BYTES) for name in
                       ("metrics.jsonl", "completions.jsonl", "filter.jsonl", "train.log")}
        self._status_mtime: float | None = None

    # ---- reading ---------------------------------------------------------------------------
    def poll(self) -> Update:
        problems: list[str] = []
        status_changed = self._read_status(problems)
        reset = self._tails["metrics.jsonl"].resets
        metrics, bad = self._rows("metrics.jsonl")
        reset = self._tails["metrics.jsonl"].resets != reset
        if reset:  # the trainer rewrote the file (a resume forgetting lost steps): these rows are from its start
            self._clear_metrics()
        problems += [f"metrics.jsonl: skipped a corrupt line: {_clip(line)}" for line in bad]
        self.bad_lines += len(bad)
        self._take_metrics(metrics)
        completions, bad = self._rows("completions.jsonl")
        problems += [f"completions.jsonl: skipped a corrupt line: {_clip(line)}" for line in bad]
        self._take_completions(completions)
        filters, bad = self._rows("filter.jsonl")
        problems += [f"filter.jsonl: skipped a corrupt line: {_clip(line)}" for line in bad]
        self.filters += filters
        log_lines = self._lines("train.log", problems)
        return Update(tuple(metrics), tuple(completions), tuple(filters), tuple(log_lines), tuple(problems),
                      status_changed, reset)

    def _read_status(self, problems: list[str]) -> bool:
        path = self.root / "status.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            changed = self.status is not None
            self.status, self._status_mtime = None, None
            return changed
        if mtime == self._status_mtime:
            return False
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # replaced atomically by the trainer: a bad read is someone else's
            problems.append(f"status.json unreadable: {exc}")
            return False
        self.status, self._status_mtime = status if isinstance(status, dict) else None, mtime
        return True

    def _rows(self, name: str) -> tuple[list[dict], tuple[str, ...]]:
        try:
            lines = self._tails[name].read_lines()
        except OSError:
            return [], ()
        parsed = parse_json_lines(lines)
        return list(parsed.records), parsed.bad_lines

    def _lines(self, name: str, problems: list[str]) -> list[str]:
        try:
            return self._tails[name].read_lines()
        except OSError as exc:
            problems.append(f"{name}: {exc}")
            return []

    @property
    def has_backlog(self) -> bool:
        """A poll left bytes unread (a huge file is read in 1 MiB slices): poll again soon."""
        return self._tails["metrics.jsonl"].has_backlog

    @property
    def torn_metrics_bytes(self) -> int:
        """Bytes of a metrics line not finished yet (a truncated last line while the trainer writes)."""
        return self._tails["metrics.jsonl"].torn_bytes

    def _clear_metrics(self) -> None:
        self.series.clear()
        self.stage_starts.clear()
        self.stage_times.clear()
        self.metric_rows = 0

    def _take_metrics(self, rows: list[dict]) -> None:
        pending: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            step = row.get("global_step")
            if not isinstance(step, int | float):
                continue
            stage = str(row.get("stage", "?"))
            self.stage_starts.setdefault(stage, float(step))
            stamp = _unix(row.get("time"))
            if stamp is not None and isinstance(row.get("step"), int):
                self.stage_times.setdefault(stage, []).append((stamp, row["step"]))
            for key, value in row.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and curve_key(key):
                    pending.setdefault(key, []).append((float(step), float(value)))
        for key, pairs in pending.items():
            self.series.setdefault(key, Series()).add(pairs)
        self.metric_rows += len(rows)

    def _take_completions(self, rows: list[dict]) -> None:
        if not rows:
            return
        latest = max(r.get("global_step", -1) for r in rows)
        if self.latest_completions and latest == self.latest_completions[0].get("global_step"):
            self.latest_completions += [r for r in rows if r.get("global_step") == latest]
        else:
            self.latest_completions = [r for r in rows if r.get("global_step") == latest]

    # ---- derived ---------------------------------------------------------------------------
    def liveness(self, now: float | None = None) -> Liveness:
        return judge_liveness(self.root, self.status, now)

    def stages(self) -> list[StageRow]:
        if not self.status:
            return []
        rows = []
        for stage in self.status.get("stages", []):
            name = str(stage.get("name"))
            step, total = int(stage.get("step") or 0), stage.get("total_steps")
            eta = self._eta(name, step, total) if stage.get("state") == "running" else None
            rows.append(StageRow(name, str(stage.get("kind", "")), str(stage.get("state", "pending")), step,
                                 total if isinstance(total, int) else None, eta, stage.get("error")))
        return rows

    def _eta(self, stage: str, step: int, total: object) -> float | None:
        """Seconds left from the stage's own step rate (its logged rows since it began)."""
        times = self.stage_times.get(stage, [])
        if not isinstance(total, int) or len(times) < 2:
            return None
        (t0, s0), (t1, s1) = times[0], times[-1]
        if s1 <= s0 or t1 <= t0:
            return None
        return max(0.0, (total - step) * (t1 - t0) / (s1 - s0))

    def checkpoints(self) -> list[Path]:
        """Every saved checkpoint (checkpoint-<step> and final) in stage order, then step order."""
        order = [s.name for s in self.stages()]
        base = self.root / "checkpoints"
        if not base.is_dir():
            return []
        found = []
        for stage_dir in base.iterdir():
            if not stage_dir.is_dir():
                continue
            rank = order.index(stage_dir.name) if stage_dir.name in order else len(order)
            for path in stage_dir.iterdir():
                if path.name == "final":
                    found.append((rank, math.inf, path))
                elif path.name.startswith("checkpoint-") and path.name[11:].isdigit():
                    found.append((rank, int(path.name[11:]), path))
        return [path for *_key, path in sorted(found)]

    def filter_rows(self) -> list[tuple[str, int, int, int, int]]:
        """(stage, epoch, kept, dropped as solved, dropped as well localised) per filtering pass."""
        return [(str(r.get("stage")), int(r.get("epoch", 0)), int(r.get("kept", 0)), int(r.get("dropped_solved", 0)),
                 int(r.get("dropped_localised", 0))) for r in self.filters]


def _unix(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def _clip(line: str, limit: int = 80) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[:limit] + "…"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
