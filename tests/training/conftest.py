"""One smoke run for the whole training suite: `avr train` on the shipped smoke config, stopped with
SIGTERM during the SFT stage, resumed, killed with SIGKILL mid-stage, resumed again to the end.
Tests read the run folder and the snapshots taken along the way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from engine.resources import resource_path

REPO = Path(__file__).resolve().parents[2]
SMOKE_CONFIG = resource_path("stages", "smoke.yaml")
SFT_SAVE_STEPS = yaml.safe_load(SMOKE_CONFIG.read_text())["stages"][0]["trainer"]["save_steps"]
TIMEOUT = 1500


@dataclass
class SmokeRun:
    root: Path
    stop_code: int = -1
    stop_status: dict = field(default_factory=dict)
    stop_checkpoints: list[str] = field(default_factory=list)
    kill_code: int = -1
    killed_step: int = -1
    killed_rows: list[dict] = field(default_factory=list)
    final_code: int = -1
    heartbeat_ages: list[float] = field(default_factory=list)
    trainer_pids: list[int] = field(default_factory=list)
    avr_pids: list[int] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def read_rows(path: Path) -> list[dict]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows


def _avr(run: SmokeRun, *args: str) -> subprocess.Popen:
    log = open(run.root.parent / f"avr-{len(run.logs)}.log", "w")
    run.logs.append(log.name)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "train", *args], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    run.avr_pids.append(proc.pid)
    return proc


def _wait(run: SmokeRun, proc: subprocess.Popen, condition, what: str) -> None:
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        status = read_json(run.root / "status.json")
        if status.get("state") == "running" and "heartbeat_unix" in status:
            run.heartbeat_ages.append(time.time() - status["heartbeat_unix"])
            if status.get("pid") not in run.trainer_pids:
                run.trainer_pids.append(status["pid"])
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"avr train exited ({proc.returncode}) before {what}; see {run.logs[-1]}")
        time.sleep(0.5)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}; see {run.logs[-1]}")


def _sft_steps(run: SmokeRun) -> list[int]:
    return [r["step"] for r in read_rows(run.root / "metrics.jsonl") if r.get("stage") == "sft"]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SmokeRun:
    run = SmokeRun(tmp_path_factory.mktemp("smoke") / "run")
    # 1. start; SIGTERM to `avr` (forwarded to the trainer) once SFT is past its first checkpoint
    proc = _avr(run, "--config", str(SMOKE_CONFIG), "--out", str(run.root))
    _wait(run, proc, lambda: max(_sft_steps(run), default=0) >= 3, "SFT step 3")
    proc.send_signal(signal.SIGTERM)
    run.stop_code = proc.wait(TIMEOUT)
    run.stop_status = read_json(run.root / "status.json")
    run.stop_checkpoints = sorted(p.name for p in (run.root / "checkpoints" / "sft").glob("checkpoint-*"))
    # 2. resume; SIGKILL the trainer right after it logs an SFT step that save_steps does not checkpoint
    stopped_at = max(_sft_steps(run), default=0)
    proc = _avr(run, "--resume", str(run.root))

    def unsaved_step_logged() -> bool:
        steps = [s for s in _sft_steps(run) if s > stopped_at]
        return (bool(steps) and steps[-1] % SFT_SAVE_STEPS != 0
                and read_json(run.root / "status.json").get("pid") != proc.pid)

    _wait(run, proc, unsaved_step_logged, "an un-checkpointed SFT step after the resume")
    run.killed_rows = read_rows(run.root / "metrics.jsonl")
    run.killed_step = run.killed_rows[-1]["step"]
    os.kill(read_json(run.root / "status.json")["pid"], signal.SIGKILL)
    run.kill_code = proc.wait(TIMEOUT)
    # 3. resume to the end
    proc = _avr(run, "--resume", str(run.root))
    run.final_code = proc.wait(TIMEOUT)
    run.trainer_pids.append(read_json(run.root / "status.json").get("pid"))
    return run
