"""`transformers`: a local Qwen2.5-Omni (or Qwen3-Omni) checkpoint run in a worker process.

The model folder may be a thinker-only checkpoint, a full one (the thinker class loads it and
skips the talker), or a PEFT/LoRA adapter folder whose adapter_config.json names a local base.
This process decodes the frames and audio (engine.media) and hands them over as .npy files;
the worker (engine/backends/workers/transformers_worker.py) builds the processor inputs with
engine.backends.qwen_inputs and streams text back. A crash or out-of-memory there is a
typed error on that item; cancel stops the worker and the next item starts a new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from engine.backends.base import BackendUnavailable, ModelRequest, register_backend
from engine.backends.media_handoff import MediaFiles, decode_request_media
from engine.backends.model_folder import inspect_model_folder
from engine.backends.worker_process import WorkerProcess, child_env, python_module_command

WORKER_MODULE = "engine.backends.workers.transformers_worker"


class TransformersBackend:
    name = "transformers"

    def __init__(self, model: str | None = None, max_pixels: int | None = None, max_new_tokens: int | None = None,
                 trust_remote_code: bool | None = False, timeout: float | None = None, device: str | None = None,
                 dtype: str | None = None, generate_kwargs: dict[str, Any] | None = None, debug: bool = False,
                 startup_timeout: float = 900.0, start: bool = True, **_: object) -> None:
        if not model:
            raise BackendUnavailable("the transformers backend needs --model PATH (a local checkpoint folder)")
        self.folder = inspect_model_folder(model)
        self.model_id = str(self.folder.path.resolve())
        self.max_new_tokens = max_new_tokens
        self.max_pixels = max_pixels
        self.timeout = timeout
        #: Extra keyword arguments for `model.generate` (sent with every request), e.g. temperature.
        self.generate_kwargs = dict(generate_kwargs or {})
        load_options = {"model": str(self.folder.path), "device": device or "auto", "dtype": dtype or "auto",
                        "trust_remote_code": bool(trust_remote_code), "debug": bool(debug)}
        self.worker = WorkerProcess(self.name, python_module_command(WORKER_MODULE), load_options,
                                    env=child_env(), startup_timeout=startup_timeout)
        if start:
            self.worker.start()  # fail fast: a folder that cannot load stops the run before item 1

    @property
    def last_stats(self) -> dict[str, Any]:
        """Timing, token counts (and encoder calls with debug=True) of the last finished request."""
        return dict(self.worker.info.get("last_stats") or {})

    def generate(self, request: ModelRequest, cancel: threading.Event | None = None) -> Iterator[str]:
        media = decode_request_media(request)
        options = {"max_new_tokens": self.max_new_tokens or request.max_new_tokens, "max_pixels": self.max_pixels,
                   "generate_kwargs": self.generate_kwargs}
        with MediaFiles(media) as files:
            payload = {"request": request.to_json(), **files.payload, "options": options}
            for message in self.worker.request(payload, cancel=cancel, timeout=self.timeout,
                                               what=f"while answering item {request.index}"):
                yield message["text"]

    def close(self) -> None:
        self.worker.close()


register_backend("transformers", TransformersBackend)
