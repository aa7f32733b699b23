"""The run folder: the only contract between a training run and whoever watches it (the studio).

    run.json            config (paths absolute), versions, start time, command
    status.json         state of the run and of each stage (pending, running, done, failed, stopped),
                        step / total_steps per stage, pid of the trainer process, heartbeat (<= 10 s
                        old while the process lives), last error; always replaced atomically
    train.log           the trainer's log
    metrics.jsonl       one row per trl log: stage, step (the stage's), global_step (over stages),
                        time, then trl's own keys (loss, reward, reward_std, rewards/<name>/mean|std,
                        kl, completions/mean_length, ...)
    completions.jsonl   a few sampled completions with their rewards per GRPO logging step
    filter.jsonl        per stage and epoch: kept, dropped_solved, dropped_localised, total
    filter/<stage>-epoch<k>.jsonl   per-sample rollout results (resume reuses them)
    data/               the samples each stage trained on; generated synthetic benchmarks
    checkpoints/<stage>/checkpoint-<step>/   trl checkpoints (LoRA: adapters); final/ when done
    tensorboard/<stage>/                     TensorBoard event files
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import UserError
from engine.io import append_jsonl, write_json_atomic, write_text_atomic
from engine.processes import pid_alive

STATES = ("pending", "running", "done", "failed", "stopped")
HEARTBEAT_SECONDS = 5.0
RUN_FILES = ("run.json", "status.json", "train.log", "metrics.jsonl", "completions.jsonl", "filter.jsonl")


class RunDirError(UserError):
    """A run folder that cannot be started or resumed."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunDir:
    """Paths and writers of one run folder. Status writes are serialised and atomic."""

    def __init__(self, root: str | Path, writer: bool = True) -> None:
        """`writer=False` (the non-main processes of a multi-GPU run): status is kept in memory and
        nothing is written; the main process owns every file of the folder."""
        self.root = Path(root)
        self.writer = writer
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._heartbeat: threading.Thread | None = None
        self._stop_heartbeat = threading.Event()

    # ------------------------------------------------------------ paths
    @property
    def run_json(self) -> Path:
        return self.root / "run.json"

    @property
    def status_json(self) -> Path:
        return self.root / "status.json"

    @property
    def log_path(self) -> Path:
        return self.root / "train.log"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def completions(self) -> Path:
        return self.root / "completions.jsonl"

    @property
    def filter_log(self) -> Path:
        return self.root / "filter.jsonl"

    def filter_results(self, stage: str, epoch: int) -> Path:
        return self.root / "filter" / f"{stage}-epoch{epoch}.jsonl"

    def data_dir(self) -> Path:
        return self.root / "data"

    def checkpoints(self, stage: str) -> Path:
        return self.root / "checkpoints" / stage

    def final_checkpoint(self, stage: str) -> Path:
        return self.checkpoints(stage) / "final"

    def tensorboard(self, stage: str) -> Path:
        return self.root / "tensorboard" / stage

    def last_checkpoint(self, stage: str) -> Path | None:
        """The highest checkpoint-<step> of a stage that holds trainer state (a complete save)."""
        found = []
        for path in self.checkpoints(stage).glob("checkpoint-*"):
            step = path.name.removeprefix("checkpoint-")
            if step.isdigit() and (path / "trainer_state.json").is_file():
                found.append((int(step), path))
        return max(found)[1] if found else None

    # ------------------------------------------------------------ creation
    def create(self, config: dict, stages: Iterable[tuple[str, str]], command: list[str]) -> None:
        """A new run: refuses a folder that already holds anything."""
        if not self.writer:
            wait_for(lambda: self.status_json.is_file() and self.run_json.is_file(), f"{self.root} created")
            self._status = json.loads(self.status_json.read_text(encoding="utf-8"))
            return
        if self.root.exists() and (not self.root.is_dir() or any(self.root.iterdir())):
            raise RunDirError(f"{self.root} is not empty; choose a new folder (or `avr train --resume {self.root}`)")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.run_json, {"config": config, "versions": versions(), "started": now_iso(),
                                          "command": command})
        self._status = {
            "state": "pending", "pid": os.getpid(), "started": now_iso(), "heartbeat": now_iso(),
            "heartbeat_unix": time.time(), "current_stage": None, "error": None,
            "stages": [{"name": name, "kind": kind, "state": "pending", "step": 0, "total_steps": None,
                        "global_step_offset": None, "checkpoint": None} for name, kind in stages],
        }
        self._write_status()

    def open_existing(self) -> dict:
        """Load run.json and status.json of a run to resume; the config is the one saved in it."""
        if not self.run_json.is_file() or not self.status_json.is_file():
            raise RunDirError(f"{self.root} is not a training run folder (no run.json / status.json)")
        try:
            run = json.loads(self.run_json.read_text(encoding="utf-8"))
            self._status = json.loads(self.status_json.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunDirError(f"{self.root}: cannot read the run files ({exc})") from None
        if not self.writer:
            return run
        if self._status.get("state") == "done":
            raise RunDirError(f"{self.root}: the run is already done")
        if self._status.get("state") == "running" and pid_alive(self._status.get("pid")) \
                and time.time() - float(self._status.get("heartbeat_unix", 0)) < 3 * HEARTBEAT_SECONDS:
            raise RunDirError(f"{self.root}: a trainer (pid {self._status['pid']}) is still running it")
        self.update(pid=os.getpid(), error=None, resumed=now_iso())
        return run

    # ------------------------------------------------------------ status
    @property
    def status(self) -> dict:
        assert self._status is not None, "create() or open_existing() first"
        return self._status

    def _write_status(self) -> None:
        if not self.writer:
            return
        self._status["heartbeat"] = now_iso()
        self._status["heartbeat_unix"] = time.time()
        write_json_atomic(self.status_json, self._status)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.status.update(fields)
            self._write_status()

    def stage(self, name: str) -> dict:
        return next(s for s in self.status["stages"] if s["name"] == name)

    def update_stage(self, name: str, **fields: Any) -> None:
        with self._lock:
            self.stage(name).update(fields)
            self._write_status()

    def start_heartbeat(self) -> None:
        """Rewrite status.json every HEARTBEAT_SECONDS from a daemon thread, until stop_heartbeat()."""
        if not self.writer:
            return

        def beat() -> None:
            while not self._stop_heartbeat.wait(HEARTBEAT_SECONDS):
                with self._lock:
                    self._write_status()

        self._stop_heartbeat.clear()
        self._heartbeat = threading.Thread(target=beat, name="avr-train-heartbeat", daemon=True)
        self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        self._stop_heartbeat.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=2 * HEARTBEAT_SECONDS)

    # ------------------------------------------------------------ logs
    def log_metrics(self, row: dict) -> None:
        if self.writer:
            append_jsonl(self.metrics, row)

    def log_completion(self, row: dict) -> None:
        if self.writer:
            append_jsonl(self.completions, row)

    def log_filter(self, row: dict) -> None:
        if self.writer:
            append_jsonl(self.filter_log, row)

    def forget_steps_after(self, stage: str, step: int) -> int:
        """Drop metric and completion rows of `stage` logged after `step` (work lost with the process
        that logged them and about to be redone), so a resumed run never logs a step twice."""
        dropped = 0
        if not self.writer:
            return dropped
        for path in (self.metrics, self.completions):
            if not path.is_file():
                continue
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except ValueError:
                    dropped += 1  # a line cut by the kill
                    continue
                if row.get("stage") == stage and int(row.get("step", 0)) > step:
                    dropped += 1
                else:
                    kept.append(line)
            write_text_atomic(path, "".join(line + "\n" for line in kept))
        return dropped


def is_main_process() -> bool:
    """Rank 0 of an `accelerate launch` (or the only process): the one that writes the run folder."""
    return os.environ.get("RANK", "0") == "0"


def wait_for(condition, what: str, timeout: float = 24 * 3600.0, poll: float = 1.0) -> None:
    """Block a non-main process until the main process has written what it needs."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise RunDirError(f"timed out waiting for {what}")
        time.sleep(poll)


def read_jsonl(path: str | Path) -> list[dict]:
    """Every complete JSON line of a file (a torn last line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def versions() -> dict[str, str | None]:
    import platform
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("torch", "transformers", "trl", "peft", "accelerate", "av-reasoner-studio"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out
