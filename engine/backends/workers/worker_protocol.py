"""The worker protocol: JSON lines between a backend (parent) and its model worker process.

STANDARD LIBRARY ONLY, Python 3.10+: a worker entry may run under another interpreter (the Ola
environment) by file path, without our package installed; it imports this file from its own
folder. Specification: docs/worker-protocol.md. In short:

- Two dedicated pipes, never stdout (model code prints): the parent passes their file
  descriptors as `--read-fd N --write-fd M`; each message is one UTF-8 JSON object per line
  with a "type".
- worker -> parent: hello {protocol, worker, pid, python}; ready {model_id, device, dtype,
  ...}; chunk {id, text}; done {id, stats}; error {id (null outside a request), kind, message}.
- parent -> worker: load {options}; generate {id, request, frames, audio, options}; shutdown.
- Media never travel inline: `frames` is {"path", "shape", "dtype"} of a .npy file holding
  (N, H, W, 3) uint8 RGB frames in the request's frame order; `audio` is a list of
  {"path", "samples", "rate"} .npy files of mono float32 samples, one per audio span.
- Cancel means the parent stops the worker process; a later request starts a new one.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Protocol

PROTOCOL_VERSION = 1

# Error kinds a worker reports (the parent maps them to typed errors).
KIND_UNAVAILABLE = "unavailable"  # cannot load: package missing, bad folder, bad options
KIND_OOM = "oom"                  # out of memory on this request; the worker stays usable
KIND_INPUT = "input"              # this request's inputs were refused (too long, bad media)
KIND_MODEL = "model"              # anything else raised while generating
KIND_PROTOCOL = "protocol"        # a message the worker does not understand
ERROR_KINDS = (KIND_UNAVAILABLE, KIND_OOM, KIND_INPUT, KIND_MODEL, KIND_PROTOCOL)


class WorkerError(Exception):
    """Raised by worker code to report a typed error to the parent."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Channel:
    """One JSON object per line over a pair of file descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._reader = os.fdopen(read_fd, "r", encoding="utf-8", newline="\n")
        self._writer = os.fdopen(write_fd, "w", encoding="utf-8", newline="\n")

    def send(self, message: dict[str, Any]) -> None:
        self._writer.write(encode(message))
        self._writer.flush()

    def receive(self) -> dict[str, Any] | None:
        """The next message, or None when the other side closed its end."""
        line = self._reader.readline()
        return decode(line) if line else None

    def close(self) -> None:
        for stream in (self._reader, self._writer):
            try:
                stream.close()
            except OSError:
                pass


def encode(message: dict[str, Any]) -> str:
    """One line of JSON (no embedded newlines: json.dumps escapes them)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode(line: str) -> dict[str, Any]:
    message = json.loads(line)
    if not isinstance(message, dict) or "type" not in message:
        raise ValueError(f"not a protocol message: {line[:200]!r}")
    return message


def channel_from_argv(argv: list[str]) -> Channel:
    """`--read-fd N --write-fd M` (other arguments are left to the worker)."""
    values = {}
    for flag in ("--read-fd", "--write-fd"):
        if flag not in argv or argv.index(flag) + 1 >= len(argv):
            raise SystemExit(f"worker: missing {flag} (workers are started by the backend, not by hand)")
        values[flag] = int(argv[argv.index(flag) + 1])
    return Channel(values["--read-fd"], values["--write-fd"])


def error_message(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "kind": kind, "message": " ".join(str(message).split())[:2000]}


class WorkerModel(Protocol):
    """What a worker entry provides after loading: `info` for `ready`, streamed generation."""

    info: dict[str, Any]

    def generate(self, message: dict[str, Any]) -> Iterator[str]: ...

    def stats(self) -> dict[str, Any]: ...


def serve(worker_name: str, load: Callable[[dict[str, Any]], WorkerModel], argv: list[str] | None = None,
          classify: Callable[[BaseException], str | None] | None = None) -> int:
    """The worker side: hello, load, then answer `generate` messages until shutdown or EOF.

    `classify` maps a library exception to an error kind (e.g. torch's OutOfMemoryError to
    "oom"); unclassified exceptions are "model" errors. Tracebacks go to stderr (the log).
    """
    channel = channel_from_argv(sys.argv[1:] if argv is None else argv)
    exit_when_parent_dies()
    channel.send({"type": "hello", "protocol": PROTOCOL_VERSION, "worker": worker_name, "pid": os.getpid(),
                  "python": platform.python_version()})
    try:
        first = channel.receive()
        if first is None:
            return 0
        if first.get("type") != "load":
            channel.send(error_message(KIND_PROTOCOL, f"expected a load message, got {first.get('type')!r}"))
            return 2
        try:
            model = load(first.get("options") or {})
        except BaseException as exc:  # report any load failure, then exit
            traceback.print_exc()
            kind = exc.kind if isinstance(exc, WorkerError) else (classify(exc) if classify else None)
            channel.send(error_message(kind or KIND_UNAVAILABLE, _describe(exc)))
            return 1
        channel.send({"type": "ready", **model.info})
        return _answer_requests(channel, model, classify)
    finally:
        channel.close()


def _answer_requests(channel: Channel, model: WorkerModel,
                     classify: Callable[[BaseException], str | None] | None) -> int:
    while True:
        message = channel.receive()
        if message is None or message.get("type") == "shutdown":
            return 0
        if message.get("type") != "generate":
            channel.send(error_message(KIND_PROTOCOL, f"unknown message type {message.get('type')!r}"))
            continue
        request_id = message.get("id")
        try:
            for text in model.generate(message):
                if text:
                    channel.send({"type": "chunk", "id": request_id, "text": text})
            channel.send({"type": "done", "id": request_id, "stats": model.stats()})
        except Exception as exc:  # one request failed; the worker answers the next one
            traceback.print_exc()
            kind = exc.kind if isinstance(exc, WorkerError) else (classify(exc) if classify else None)
            channel.send(error_message(kind or KIND_MODEL, _describe(exc), request_id))


def exit_when_parent_dies(poll_seconds: float = 1.0) -> None:
    """Exit at once if the parent goes away (even `kill -9`), not after the current generation.

    The worker runs in its own session, so no signal reaches it when the parent dies; its
    parent id changes instead (re-parented to init or a subreaper).
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
