"""The `transformers` model worker: one Qwen-Omni thinker in its own process, text streamed back.

Started by engine.backends.transformers_backend as `python -m
engine.backends.workers.transformers_worker --read-fd N --write-fd M` (protocol:
worker_protocol.py, docs/worker-protocol.md). The hub is offline here; `trust_remote_code`
stays off unless the load options ask for it. Inputs are built by engine.backends.qwen_inputs,
the same function the trainer uses; text streams through transformers' TextIteratorStreamer.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

from engine.backends.workers import worker_protocol as wp  # noqa: E402

ENCODER_NAMES = ("visual", "audio_tower")  # the thinker's vision and audio encoders


def pick_device(requested: str | None) -> str:
    """`auto` (or None): CUDA, else Apple MPS, else CPU."""
    import torch

    if requested and requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(requested: str | None, device: str):
    """`auto`: bfloat16 on CUDA (float16 where bf16 is missing), float16 on MPS, float32 on CPU."""
    import torch

    if requested and requested != "auto":
        if not isinstance(getattr(torch, requested, None), torch.dtype):
            raise wp.WorkerError(wp.KIND_UNAVAILABLE, f"unknown dtype {requested!r} (use auto, bfloat16, float16, float32)")
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


class TransformersModel:
    """A loaded thinker + processor; `generate` streams the answer to one request."""

    def __init__(self, options: dict[str, Any]) -> None:
        started = time.monotonic()
        import torch
        import transformers

        from engine.backends.base import BackendUnavailable
        from engine.backends.model_folder import inspect_model_folder
        from engine.backends.qwen_inputs import load_processor

        try:
            folder = inspect_model_folder(options["model"])
        except BackendUnavailable as exc:
            raise wp.WorkerError(wp.KIND_UNAVAILABLE, str(exc)) from None
        trust = bool(options.get("trust_remote_code"))
        self.device = pick_device(options.get("device"))
        self.dtype = pick_dtype(options.get("dtype"), self.device)
        model_class = getattr(transformers, folder.thinker_class, None)
        if model_class is None:
            raise wp.WorkerError(wp.KIND_UNAVAILABLE, f"transformers {transformers.__version__} has no "
                                 f"{folder.thinker_class}")
        model = model_class.from_pretrained(str(folder.weights), dtype=self.dtype, local_files_only=True,
                                            trust_remote_code=trust)
        if folder.adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(folder.adapter), local_files_only=True)
        self.model = model.to(self.device).eval()
        self.processor = load_processor(str(folder.path), trust)
        self.encoder_calls = {name: 0 for name in ENCODER_NAMES}
        if options.get("debug"):
            self._count_encoder_calls()
        self._stats: dict[str, Any] = {}
        from huggingface_hub import constants as hub_constants

        self.info = {"model_id": str(folder.path), **folder.to_json(), "device": self.device,
                     "hub_offline": bool(hub_constants.HF_HUB_OFFLINE), "trust_remote_code": trust,
                     "dtype": str(self.dtype).replace("torch.", ""), "transformers": transformers.__version__,
                     "torch": torch.__version__, "load_seconds": round(time.monotonic() - started, 3)}

    def _count_encoder_calls(self) -> None:
        """Debug: count forward calls of the vision and audio encoders (reported in `done` stats)."""
        for name, module in self.model.named_modules():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in self.encoder_calls and not getattr(module, "_avr_counted", False):
                module._avr_counted = True
                module.register_forward_hook(lambda *_, key=leaf: self._count(key))

    def _count(self, key: str) -> None:
        self.encoder_calls[key] += 1

    def generate(self, message: dict[str, Any]) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        from engine.backends.base import ModelRequest
        from engine.backends.media_handoff import load_media_files
        from engine.backends.qwen_inputs import build_model_inputs

        started = time.monotonic()
        options = message.get("options") or {}
        request = ModelRequest.from_json(message["request"])
        media = load_media_files(message)
        calls_before = dict(self.encoder_calls)
        try:
            inputs = build_model_inputs(self.processor, request, media.frames, media.audio,
                                        max_pixels=options.get("max_pixels"))
        except ValueError as exc:
            raise wp.WorkerError(wp.KIND_INPUT, f"inputs refused by the processor: {exc}") from None
        inputs = self._to_device(inputs)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        tokenizer = self.processor.tokenizer
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        max_new = int(options.get("max_new_tokens") or request.max_new_tokens)
        kwargs = {"do_sample": False, **(options.get("generate_kwargs") or {}),
                  **inputs, "max_new_tokens": max_new, "streamer": streamer}
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with torch.inference_mode():
                    outcome["ids"] = self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised on the serving thread
                outcome["error"] = exc
                streamer.end()

        thread = threading.Thread(target=run, name="generate", daemon=True)
        thread.start()
        first_chunk_at = None
        for text in streamer:
            if first_chunk_at is None and text:
                first_chunk_at = time.monotonic()
            yield text
        thread.join()
        if "error" in outcome:
            self._release_memory()
            raise outcome["error"]
        seconds = time.monotonic() - started
        new_tokens = int(outcome["ids"].shape[1]) - prompt_tokens
        self._stats = {
            "prompt_tokens": prompt_tokens, "new_tokens": new_tokens, "seconds": round(seconds, 3),
            "first_chunk_seconds": round(first_chunk_at - started, 3) if first_chunk_at else None,
            "tokens_per_second": round(new_tokens / seconds, 2) if seconds > 0 else None,
            "encoder_calls": {k: self.encoder_calls[k] - calls_before[k] for k in self.encoder_calls},
        }

    def _to_device(self, inputs):
        """Tensors to the model's device; pixel and audio features in the model's dtype."""
        import torch

        moved = {}
        for key, value in inputs.items():
            if isinstance(value, torch.Tensor):
                value = value.to(self.device)
                if key in ("pixel_values", "pixel_values_videos", "input_features"):
                    value = value.to(self.dtype)
            moved[key] = value
        return moved

    def _release_memory(self) -> None:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def stats(self) -> dict[str, Any]:
        return dict(self._stats)


def classify(exc: BaseException) -> str | None:
    """Out-of-memory errors (CUDA, MPS, host) are their own kind: the caller can retry smaller."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return wp.KIND_OOM
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return wp.KIND_OOM
    return None


def main(argv: list[str] | None = None) -> int:
    return wp.serve("transformers", TransformersModel, sys.argv[1:] if argv is None else argv, classify)


if __name__ == "__main__":
    raise SystemExit(main())
