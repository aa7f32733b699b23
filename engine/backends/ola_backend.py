"""The `ola` backend (EXPERIMENTAL): AV-Reasoner / Ola-Omni checkpoints in the user's Ola environment.

The published AV-Reasoner checkpoints need the Ola code base (Python 3.10, its own torch and
transformers pins), which must never be installed in our environment. So this backend starts
engine/backends/workers/ola_worker.py BY FILE PATH under the interpreter the user names
(`avr infer --backend ola --python /path/to/ola-env/bin/python --model CHECKPOINT`), with the
same worker protocol as the `transformers` backend (docs/worker-protocol.md): frames and
audio are decoded here and handed over as .npy files; the worker needs nothing of our package.
See docs/servers.md for the set-up and for what was and was not run here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.backends.base import BackendUnavailable, ModelRequest, register_backend

WORKER_ENTRY = Path(__file__).resolve().parent / "workers" / "ola_worker.py"


def ola_worker_env() -> dict[str, str]:
    """The user's environment without our import path (the worker must not see our package)
    and with the hub offline: nothing is downloaded behind the user's back."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


class OlaBackend:
    """One Ola worker process; answers one item at a time (a 7B omni model fills a GPU)."""

    name = "ola"

    def __init__(self, python: str, model: str, device: str = "cuda", encoders_dir: str | None = None,
                 timeout: float | None = None, startup_timeout: float = 1800.0) -> None:
        from engine.backends.worker_process import WorkerProcess

        if not python:
            raise BackendUnavailable("the ola backend needs --python: the interpreter of your Ola environment, "
                                     "e.g. ~/miniconda3/envs/ola/bin/python (see docs/servers.md)")
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise BackendUnavailable(f"--python {python}: no such executable")
        if not model or not Path(model).is_dir():
            raise BackendUnavailable(f"--model must be an AV-Reasoner / Ola checkpoint folder, got {model!r}")
        self.model_id = Path(model).resolve().name
        self.timeout = timeout
        options = {"model": str(Path(model).resolve()), "device": device,
                   "encoders_dir": str(Path(encoders_dir).resolve()) if encoders_dir else None}
        self.worker = WorkerProcess("ola", [python, str(WORKER_ENTRY)], options, env=ola_worker_env(),
                                    startup_timeout=startup_timeout)
        self.worker.start()

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        from engine.backends.media_handoff import MediaFiles, decode_request_media

        with MediaFiles(decode_request_media(request)) as files:
            payload = {"request": request.to_json(), **files.payload, "options": {}}
            for message in self.worker.request(payload, cancel=cancel, timeout=self.timeout,
                                               what=f"while answering item {request.index}"):
                yield message["text"]

    def close(self) -> None:
        self.worker.close()


def create_ola_backend(*, python: str | None = None, model: str | None = None, device: str | None = None,
                       encoders_dir: str | None = None, timeout: float | None = None,
                       **_other_backends_options: Any) -> OlaBackend:
    """`avr infer --backend ola --python PY --model CHECKPOINT`; other backends' options are ignored."""
    return OlaBackend(python or "", model or "", device=device or "cuda", encoders_dir=encoders_dir, timeout=timeout)


register_backend("ola", create_ola_backend)
