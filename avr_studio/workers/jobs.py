"""The one launcher for subprocess jobs (`avr infer`, `avr train`): start, progress, cancel, finished.

The job runs as a child process through QProcess, so the GUI thread never waits on it. It runs
niced and with its BLAS/torch thread pools limited, so the window keeps a core. Progress comes
from the JSON lines the job appends to its output file (distinct item indices against the planned
total) and, for jobs that say more, from `{"event": "progress", "done": N, "total": M}` lines on
its stderr/stdout; other `{"event": ...}` lines (streamed text) are passed on as `event`. Cancel sends SIGTERM to the job's process group (its own workers included) and
SIGKILL after a timeout. Every end - done, cancelled, failed, crashed - arrives once as `finished`
with a `JobOutcome` whose message is fit for a status bar.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections import deque
from typing import Literal

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from avr_studio.workers.progress import ProgressMeter
from avr_studio.workers.spec import JobOutcome, JobSpec, default_job_threads, python_module_argv
from avr_studio.workers.tail import FileTail, LineBuffer, parse_json_lines

__all__ = ["Job", "JobOutcome", "JobSpec", "default_job_threads", "python_module_argv"]

JobState = Literal["idle", "running", "cancelling", "done", "cancelled", "failed"]
PROGRESS_EVENT = "progress"
#: Environment variables that size the thread pools of torch (OpenMP), BLAS and tokenizers.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS")
LOG_LINES_KEPT = 200
#: Between two slices of a big backlog the event loop runs for this long (a slice costs a few ms).
BACKLOG_PAUSE_MS = 10


class Job(QObject):
    """One run of a `JobSpec`. Signals are delivered on the GUI thread."""

    started = Signal()
    progress = Signal(object)  # JobProgress
    records = Signal(object)  # tuple[dict, ...]: rows the job appended since the last emit
    log = Signal(str)  # one line of the job's stdout/stderr (event lines excluded)
    event = Signal(object)  # any other `{"event": ...}` line the job prints (e.g. streamed text chunks)
    bad_line = Signal(str)  # an output line that is not a JSON object
    finished = Signal(object)  # JobOutcome, exactly once per start

    def __init__(self, spec: JobSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.state: JobState = "idle"
        self.outcome: JobOutcome | None = None
        self.log_tail: deque[str] = deque(maxlen=LOG_LINES_KEPT)
        self._process: QProcess | None = None
        self._tail = FileTail(spec.output) if spec.output else None
        self._console = LineBuffer()
        self._counted: set = set()
        self._record_count = 0
        self._reported_done: int | None = None
        self._meter = ProgressMeter(spec.total, time.monotonic())
        self._cancel_requested = False
        self._backlog_bytes = 0
        self._baseline_set = True
        self._poll = QTimer(self)
        self._poll.setInterval(spec.poll_ms)
        self._poll.timeout.connect(self._read_output)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    # ---- control ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    @property
    def pid(self) -> int | None:
        return int(self._process.processId()) if self._process and self.running else None

    def start(self) -> None:
        """Launch the process; returns at once. A job object runs once."""
        if self.state != "idle":
            raise RuntimeError(f"{self.spec.name} was already started")
        self._meter = ProgressMeter(self.spec.total, time.monotonic())
        self._note_existing_output()
        process = QProcess(self)
        program, *args = self._launch_argv()
        process.setProgram(program)
        process.setArguments(args)
        process.setProcessEnvironment(self._environment())
        if self.spec.cwd:
            process.setWorkingDirectory(str(self.spec.cwd))
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        _start_in_own_session(process)
        process.readyReadStandardOutput.connect(self._read_console)
        process.errorOccurred.connect(self._on_error)
        process.finished.connect(self._on_finished)
        self._process = process
        self.state = "running"
        process.start()
        self._poll.start()
        self.started.emit()
        QTimer.singleShot(0, self._read_output)

    def cancel(self) -> None:
        """SIGTERM now (the job and its own children), SIGKILL if it is still there after the timeout."""
        if self.state != "running" or self._process is None:
            return
        self._cancel_requested = True
        self.state = "cancelling"
        self._signal_group(signal.SIGTERM)
        self._kill_timer.start(round(self.spec.stop_timeout_s * 1000))

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Stop a running job and wait for it (closing the window: never leave an orphan)."""
        if not self.running or self._process is None:
            return
        self.cancel()
        wait_ms = round(1000 * (self.spec.stop_timeout_s if timeout_s is None else timeout_s))
        if not self._process.waitForFinished(wait_ms):
            self._kill()
            self._process.waitForFinished(2000)

    def _kill(self) -> None:
        if self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning:
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: int) -> None:
        pid = int(self._process.processId()) if self._process else 0
        if pid <= 0:
            return
        if hasattr(os, "killpg"):
            try:
                os.killpg(pid, signum)
                return
            except (ProcessLookupError, PermissionError):
                pass
        if signum == signal.SIGTERM:
            self._process.terminate()
        else:
            self._process.kill()

    # ---- launching -------------------------------------------------------------------------
    def _launch_argv(self) -> list[str]:
        """The command, run through `nice` where it exists, so every thread starts at low priority."""
        argv = list(self.spec.argv)
        nice = shutil.which("nice") if self.spec.niceness > 0 else None
        return [nice, "-n", str(self.spec.niceness), *argv] if nice else argv

    def _environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        threads = str(self.spec.threads or default_job_threads())
        for name in THREAD_VARIABLES:
            env.insert(name, threads)
        env.insert("TOKENIZERS_PARALLELISM", "false")
        env.insert("PYTHONUNBUFFERED", "1")
        for key, value in self.spec.env.items():
            env.insert(key, value)
        return env

    def _note_existing_output(self) -> None:
        """Rows already in the output (a resumed run) count as done but not towards the rate; they
        are read slice by slice from the event loop (a 100k-row file must not freeze the window)."""
        self._backlog_bytes = 0
        if self._tail is not None and self._tail.path.is_file():
            self._backlog_bytes = self._tail.path.stat().st_size
        self._baseline_set = self._backlog_bytes == 0

    # ---- watching --------------------------------------------------------------------------
    def _read_console(self) -> None:
        if self._process is None:
            return
        data = bytes(self._process.readAllStandardOutput().data())
        self._console_lines(self._console.feed(data))

    def _console_lines(self, lines: list[str]) -> None:
        for line in lines:
            if self._take_event(line):
                continue
            if line.strip():
                self.log_tail.append(line)
                self.log.emit(line)

    def _take_event(self, line: str) -> bool:
        """A JSON object with an "event" key: progress updates the meter, others go out as `event`."""
        if not line.startswith("{") or '"event"' not in line:
            return False
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return False
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            return False
        if event["event"] == PROGRESS_EVENT:
            done, total = event.get("done"), event.get("total")
            if isinstance(done, int):
                self._reported_done = done
                self._emit_progress(total if isinstance(total, int) else None)
        else:
            self.event.emit(event)
        return True

    def _read_output(self) -> None:
        """One slice of new output; the next slice is read soon if more is waiting."""
        if self._read_output_once() and self._tail.has_backlog and self.running:
            QTimer.singleShot(BACKLOG_PAUSE_MS, self._read_output)  # other events run between slices

    def _drain_output(self) -> None:
        """Everything left, at the end of the job."""
        while self._read_output_once() and self._tail.has_backlog:
            pass

    def _read_output_once(self) -> bool:
        """True when the read moved forward (an unreadable file does not)."""
        if self._tail is None:
            return False
        before = (self._tail.offset, self._tail.resets)
        resets = self._tail.resets
        try:
            lines = self._tail.read_lines()
        except OSError as exc:  # unreadable for now (permissions, a network share): say so, keep going
            self._console_lines([f"cannot read {self._tail.path.name}: {exc}"])
            return False
        if self._tail.resets != resets:  # the file was replaced: count it afresh
            self._counted.clear()
            self._record_count = 0
        took = self._take_records(lines)
        if not self._baseline_set:
            if self._tail.offset + self._tail.torn_bytes < self._backlog_bytes:
                return True  # still reading what earlier runs left: no progress yet
            self._baseline_set = True
            self._meter.set_baseline(self._done_count())
            took = True
        if took:
            self._emit_progress()
        return (self._tail.offset, self._tail.resets) != before

    def _take_records(self, lines: list[str]) -> bool:
        if not lines:
            return False
        parsed = parse_json_lines(lines)
        for line in parsed.bad_lines:
            self.bad_line.emit(line)
        key = self.spec.count_key
        for record in parsed.records:
            self._record_count += 1
            if key is not None and key in record:
                self._counted.add(_hashable(record[key]))
        if parsed.records:
            self.records.emit(parsed.records)
        return bool(parsed.records)

    def _done_count(self) -> int:
        from_output = len(self._counted) if self.spec.count_key is not None else self._record_count
        return max(from_output, self._reported_done or 0)

    def _emit_progress(self, total: int | None = None) -> None:
        self.progress.emit(self._meter.update(self._done_count(), time.monotonic(), total))

    # ---- ending ----------------------------------------------------------------------------
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.state == "running":
            detail = self._process.errorString() if self._process else "unknown error"
            self._finish("failed", f"{self.spec.name} could not start: {detail}", None, None)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._read_console()
        self._console_lines(self._console.flush())
        self._drain_output()
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        signum = exit_code if crashed else None
        code = None if crashed else exit_code
        if self._cancel_requested:
            self._finish("cancelled", self._cancel_message(), code, signum)
        elif crashed:
            self._finish("failed", self._crash_message(signum), code, signum)
        elif exit_code != 0:
            self._finish("failed", self._exit_message(exit_code), code, signum)
        else:
            self._finish("done", f"{self.spec.name} finished: {self._meter.progress(time.monotonic()).describe()}",
                         code, signum)

    def _cancel_message(self) -> str:
        return f"{self.spec.name} cancelled after {self._meter.progress(time.monotonic()).describe()}"

    def _crash_message(self, signum: int | None) -> str:
        name = _signal_name(signum)
        last = self._last_log_line()
        return f"{self.spec.name} was killed ({name})" + (f"; last output: {last}" if last else "")

    def _exit_message(self, exit_code: int) -> str:
        last = self._last_log_line()
        return f"{self.spec.name} failed (exit code {exit_code})" + (f": {last}" if last else "")

    def _last_log_line(self) -> str:
        return self.log_tail[-1].strip() if self.log_tail else ""

    def _finish(self, state: str, message: str, exit_code: int | None, signum: int | None) -> None:
        if self.outcome is not None:
            return
        self._poll.stop()
        self._kill_timer.stop()
        self.state = state
        progress = self._meter.progress(time.monotonic())
        self.outcome = JobOutcome(state, message, exit_code, signum, progress, tuple(self.log_tail))
        self.finished.emit(self.outcome)


def _start_in_own_session(process: QProcess) -> None:
    """Its own session and process group: cancel reaches the job's children, and a Ctrl+C in the
    studio's terminal does not reach the job."""
    if not hasattr(QProcess, "UnixProcessParameters") or sys.platform == "win32":
        return
    params = QProcess.UnixProcessParameters()
    params.flags = QProcess.UnixProcessFlag.CreateNewSession | QProcess.UnixProcessFlag.ResetSignalHandlers
    process.setUnixProcessParameters(params)


def _signal_name(signum: int | None) -> str:
    if signum is None:
        return "unknown signal"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _hashable(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else value
