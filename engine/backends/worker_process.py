"""The parent side of a model worker: spawn, handshake, send requests, read chunks, stop.

A worker runs one model in its own process (engine/backends/workers/, protocol in
docs/worker-protocol.md). Whatever happens there (out of memory, a segfault, `kill -9`) the
caller gets a typed error for that request: WorkerCrashed when the process dies, BackendError
for an error it reports, GenerationTimeout when it goes silent, Cancelled when the caller
cancels (which stops the process). After a crash or a cancel the next request starts a fresh
worker. The worker's stdout and stderr go to a log file whose tail is quoted in crash messages.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from engine.backends.base import (
    BackendError,
    BackendUnavailable,
    Cancelled,
    GenerationTimeout,
    WorkerCrashed,
)
from engine.backends.workers import worker_protocol as wp

_EOF = object()
_INSTANCES = itertools.count(1)
_POLL_SECONDS = 0.1
_LOG_TAIL_CHARS = 600


class WorkerProcess:
    """One worker process at a time; `start` is implicit in `request` after a crash or stop."""

    def __init__(self, name: str, command: Sequence[str], load_options: dict[str, Any],
                 env: dict[str, str] | None = None, startup_timeout: float = 600.0,
                 log_dir: str | Path | None = None) -> None:
        if os.name != "posix":
            raise BackendUnavailable("model workers need a POSIX system (Linux or macOS) for their pipes")
        self.name = name
        self.command = list(command)
        self.load_options = dict(load_options)
        self.env = env
        self.startup_timeout = startup_timeout
        self.log_path = (Path(log_dir or tempfile.gettempdir())
                         / f"avr-{name}-worker-{os.getpid()}-{next(_INSTANCES)}.log")
        self.info: dict[str, Any] = {}
        self._process: subprocess.Popen | None = None
        self._messages: queue.Queue = queue.Queue()
        self._writer = None
        self._ids = itertools.count(1)

    # -- life cycle -------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> dict[str, Any]:
        """Spawn, check the hello, send load, wait for ready; returns the ready message."""
        self.stop()
        to_worker_read, to_worker_write = os.pipe()
        from_worker_read, from_worker_write = os.pipe()
        argv = [*self.command, "--read-fd", str(to_worker_read), "--write-fd", str(from_worker_write)]
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")  # the log's tail is current when a crash quotes it
        with open(self.log_path, "ab") as log:
            try:
                self._process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                    pass_fds=(to_worker_read, from_worker_write), start_new_session=True)
            except OSError as exc:
                for fd in (to_worker_read, to_worker_write, from_worker_read, from_worker_write):
                    os.close(fd)
                raise BackendUnavailable(f"cannot start the {self.name} worker ({argv[0]}): {exc}") from None
        os.close(to_worker_read)
        os.close(from_worker_write)
        self._writer = os.fdopen(to_worker_write, "w", encoding="utf-8", newline="\n")
        self._messages = queue.Queue()
        reader = os.fdopen(from_worker_read, "r", encoding="utf-8", newline="\n")
        threading.Thread(target=self._read_loop, args=(reader, self._messages), daemon=True,
                         name=f"{self.name}-worker-reader").start()
        return self._handshake()

    def _handshake(self) -> dict[str, Any]:
        hello = self._next_message(self.startup_timeout, None, "while starting")
        if hello.get("type") != "hello" or hello.get("protocol") != wp.PROTOCOL_VERSION:
            self.stop()
            raise BackendUnavailable(f"the {self.name} worker speaks another protocol: {json.dumps(hello)[:200]}")
        self._send({"type": "load", "options": self.load_options})
        ready = self._next_message(self.startup_timeout, None, "while loading the model")
        if ready.get("type") == "error":
            self.stop()
            raise BackendUnavailable(f"the {self.name} worker could not load the model: {ready.get('message')}")
        if ready.get("type") != "ready":
            self.stop()
            raise BackendUnavailable(f"the {self.name} worker sent {ready.get('type')!r} instead of ready")
        self.info = {k: v for k, v in ready.items() if k != "type"}
        return ready

    def stop(self) -> None:
        """Stop the worker now (cancel = stop): SIGKILL to its process group. Safe to call twice."""
        process, self._process = self._process, None
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError:
                pass
            self._writer = None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()
        process.wait(timeout=10)

    def close(self) -> None:
        """Ask the worker to exit, give it a moment, then stop it; its log is removed."""
        if self.alive:
            try:
                self._send({"type": "shutdown"})
                self._process.wait(timeout=2)  # type: ignore[union-attr]
            except (BackendError, subprocess.TimeoutExpired):
                pass
        self.stop()
        self.log_path.unlink(missing_ok=True)

    # -- requests ---------------------------------------------------------------------------
    def request(self, payload: dict[str, Any], cancel: threading.Event | None = None,
                timeout: float | None = None, what: str = "a request") -> Iterator[dict[str, Any]]:
        """Send one generate message; yield its chunk messages; return at done.

        `timeout` bounds the silence between two messages. Leaving the loop early (the caller
        stops iterating) stops the worker, since it would go on generating.
        """
        if not self.alive:
            self.start()
        request_id = str(next(self._ids))
        self._send({"type": "generate", "id": request_id, **payload})
        finished = False
        try:
            while True:
                message = self._next_message(timeout, cancel, what)
                if message.get("id") not in (request_id, None):
                    continue  # a late message of an abandoned request
                kind = message.get("type")
                if kind == "chunk":
                    yield message
                elif kind == "done":
                    finished = True
                    self.info["last_stats"] = message.get("stats") or {}
                    return
                elif kind == "error":
                    finished = True
                    raise _typed_error(self.name, message)
        finally:
            if not finished:
                self.stop()

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._writer.write(wp.encode(message))  # type: ignore[union-attr]
            self._writer.flush()  # type: ignore[union-attr]
        except (OSError, ValueError, AttributeError):
            raise self._crashed("while receiving a request") from None

    def _next_message(self, timeout: float | None, cancel: threading.Event | None, what: str) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if cancel is not None and cancel.is_set():
                self.stop()
                raise Cancelled(f"cancelled: the {self.name} worker was stopped")
            wait = _POLL_SECONDS if deadline is None else min(_POLL_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                message = self._messages.get(timeout=wait)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    self.stop()
                    raise GenerationTimeout(f"the {self.name} worker sent nothing for {timeout:g} s ({what}); "
                                            "it was stopped") from None
                continue
            if message is _EOF:
                raise self._crashed(what)
            return message

    def _crashed(self, what: str) -> WorkerCrashed:
        process = self._process
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.stop()
        how = _exit_description(code)
        tail = self.log_tail()
        return WorkerCrashed(f"the {self.name} worker died ({how}) {what}" + (f"; log: ...{tail}" if tail else ""))

    def log_tail(self) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " ".join(text[-_LOG_TAIL_CHARS:].split())

    @staticmethod
    def _read_loop(reader, messages: queue.Queue) -> None:
        try:
            for line in reader:
                try:
                    messages.put(wp.decode(line))
                except ValueError:
                    continue  # not ours; the protocol pipe carries only messages
        except (OSError, ValueError):
            pass
        finally:
            messages.put(_EOF)
            reader.close()


def _typed_error(name: str, message: dict[str, Any]) -> BackendError:
    kind, text = message.get("kind"), message.get("message") or "unknown error"
    if kind == wp.KIND_OOM:
        return BackendError(f"out of memory in the {name} worker: {text} (try fewer frames, --max-pixels or less audio)")
    if kind == wp.KIND_UNAVAILABLE:
        return BackendUnavailable(f"{name} worker: {text}")
    return BackendError(f"{name} worker: {text}")


def _exit_description(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def python_module_command(module: str, python: str | None = None) -> list[str]:
    """`python -m module` with this interpreter (our package importable in the child)."""
    return [python or sys.executable, "-m", module]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment plus our package root on PYTHONPATH and the hub offline."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update(extra or {})
    return env
