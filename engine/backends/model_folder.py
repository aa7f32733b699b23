"""What a local model folder holds: which omni family, thinker-only or full layout, or a LoRA adapter.

Read from config.json / adapter_config.json only (no transformers import), so a bad folder is
refused before a worker process starts. The worker then picks the thinker class from it: the
thinker class loads a full checkpoint too (it ignores the talker weights).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.backends.base import BackendUnavailable

# config.json model_type -> (family, layout)
MODEL_TYPES: dict[str, tuple[str, str]] = {
    "qwen2_5_omni_thinker": ("qwen2_5_omni", "thinker"),
    "qwen2_5_omni": ("qwen2_5_omni", "full"),
    "qwen3_omni_moe_thinker": ("qwen3_omni", "thinker"),
    "qwen3_omni_moe": ("qwen3_omni", "full"),
}
# family -> the transformers class that generates text from video, images and audio
THINKER_CLASSES: dict[str, str] = {
    "qwen2_5_omni": "Qwen2_5OmniThinkerForConditionalGeneration",
    "qwen3_omni": "Qwen3OmniMoeThinkerForConditionalGeneration",
}
_PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")


@dataclass(frozen=True)
class ModelFolder:
    """A checkpoint the `transformers` backend can load; `adapter` set for a PEFT/LoRA folder."""

    path: Path
    family: str
    layout: str
    weights: Path  # the folder holding config.json and the weights (the base, for an adapter)
    adapter: Path | None = None

    @property
    def thinker_class(self) -> str:
        return THINKER_CLASSES[self.family]

    def to_json(self) -> dict:
        return {"path": str(self.path), "family": self.family, "layout": self.layout,
                "weights": str(self.weights), "adapter": str(self.adapter) if self.adapter else None}


def inspect_model_folder(path: str | Path) -> ModelFolder:
    """Classify `path`; BackendUnavailable with a one-line reason when it cannot be served."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise BackendUnavailable(f"--model {folder}: no such folder (the transformers backend loads a local checkpoint)")
    adapter_config = folder / "adapter_config.json"
    if adapter_config.is_file():
        base = _adapter_base(folder, adapter_config)
        inner = inspect_model_folder(base)
        return ModelFolder(folder, inner.family, inner.layout, inner.weights, adapter=folder)
    family, layout = _family_and_layout(folder)
    return ModelFolder(folder, family, layout, folder)


def processor_folder(path: str | Path) -> str:
    """Where the processor lives: the folder itself, or an adapter's base when it has none."""
    folder = Path(path)
    if any((folder / name).is_file() for name in _PROCESSOR_FILES):
        return str(folder)
    return str(inspect_model_folder(folder).weights)


def _family_and_layout(folder: Path) -> tuple[str, str]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise BackendUnavailable(f"--model {folder}: no config.json (not a transformers checkpoint)")
    try:
        model_type = json.loads(config_path.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"--model {folder}: unreadable config.json ({exc})") from None
    if model_type not in MODEL_TYPES:
        supported = ", ".join(sorted(MODEL_TYPES))
        raise BackendUnavailable(f"--model {folder}: model type {model_type!r} is not supported by the "
                                 f"transformers backend (supported: {supported})")
    return MODEL_TYPES[model_type]


def _adapter_base(folder: Path, adapter_config: Path) -> Path:
    try:
        base_name = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"--model {folder}: unreadable adapter_config.json ({exc})") from None
    if not base_name:
        raise BackendUnavailable(f"--model {folder}: adapter_config.json names no base model")
    base = Path(base_name).expanduser()
    if not base.is_absolute():
        base = (folder / base).resolve() if (folder / base).is_dir() else base
    if not base.is_dir():
        raise BackendUnavailable(f"--model {folder}: the adapter's base model {base_name!r} is not a local "
                                 "folder (the hub is offline in the worker)")
    return base
