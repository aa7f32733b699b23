"""`avr dev full-layout`: a thinker checkpoint re-wrapped as a full Qwen2.5-Omni one (what vLLM serves).

Weights are renamed shard by shard (`thinker.` prefix, the official checkpoint's key names), so
memory stays at one shard; the talker is left out (`enable_audio_output: false`) and an empty
speaker map lets transformers load the folder too. A PEFT/LoRA adapter folder (a LoRA
fine-tune from `avr train`) is first merged into its base.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from engine.errors import UserError

THINKER_MODEL_TYPE = "qwen2_5_omni_thinker"
FULL_MODEL_TYPE = "qwen2_5_omni"
_WEIGHT_INDEX = "model.safetensors.index.json"
_TALKER_SHARED_IDS = ("audio_token_index", "image_token_index", "video_token_index", "audio_start_token_id",
                      "audio_end_token_id", "vision_start_token_id", "vision_end_token_id")


def wrap_full_layout(thinker_dir: str | Path, out_dir: str | Path) -> Path:
    """Re-wrap a thinker-only checkpoint (or a LoRA adapter on one) as a full checkpoint.

    Generate text from the result with `model.thinker.generate` (the full class's own generate
    wants a speaker from spk_dict.pt even for text) or load it with the thinker class.
    """
    source, out = Path(thinker_dir), Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new folder for the full checkpoint")
    if (source / "adapter_config.json").is_file():
        with tempfile.TemporaryDirectory(prefix="avr-merged-thinker-") as merged:
            return wrap_full_layout(merge_adapter(source, Path(merged) / "thinker"), out)
    thinker_config = _read_thinker_config(source)
    shards = sorted(source.glob("*.safetensors"))
    if not shards:
        raise UserError(f"{source} holds no .safetensors weights")
    out.mkdir(parents=True, exist_ok=True)
    for shard in shards:
        _rename_shard(shard, out / shard.name)
    _write_index(source, out)
    _write_full_config(thinker_config, out)
    _copy_side_files(source, out)
    import torch

    torch.save({}, out / "spk_dict.pt")
    return out


def _read_thinker_config(source: Path) -> dict:
    config_path = source / "config.json"
    if not config_path.is_file():
        raise UserError(f"{source} is not a model folder (no config.json)")
    config = json.loads(config_path.read_text())
    model_type = config.get("model_type")
    if model_type == FULL_MODEL_TYPE:
        raise UserError(f"{source} is already a full Qwen2.5-Omni checkpoint")
    if model_type != THINKER_MODEL_TYPE:
        raise UserError(f"{source} holds a {model_type!r} model, not a Qwen2.5-Omni thinker")
    return config


def _rename_shard(source: Path, target: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), framework="pt") as reader:
        tensors = {f"thinker.{key}": reader.get_tensor(key) for key in reader.keys()}
    save_file(tensors, str(target), metadata={"format": "pt"})


def _write_index(source: Path, out: Path) -> None:
    index_path = source / _WEIGHT_INDEX
    if not index_path.is_file():
        return
    index = json.loads(index_path.read_text())
    index["weight_map"] = {f"thinker.{k}": v for k, v in index["weight_map"].items()}
    (out / _WEIGHT_INDEX).write_text(json.dumps(index, indent=2))


def _write_full_config(thinker_config: dict, out: Path) -> None:
    from transformers import Qwen2_5OmniConfig

    thinker = {k: v for k, v in thinker_config.items()
               if k not in ("architectures", "transformers_version", "dtype", "torch_dtype")}
    # The talker is not built (no audio output); its token ids follow the thinker's.
    talker = {key: thinker[key] for key in _TALKER_SHARED_IDS if key in thinker}
    config = Qwen2_5OmniConfig(thinker_config=thinker, talker_config=talker, enable_audio_output=False)
    config.architectures = ["Qwen2_5OmniForConditionalGeneration"]
    if "dtype" in thinker_config or "torch_dtype" in thinker_config:
        config.dtype = thinker_config.get("dtype") or thinker_config.get("torch_dtype")
    config.save_pretrained(out)


def merge_adapter(adapter_dir: Path, out: Path) -> Path:
    """A LoRA adapter merged into its base thinker, saved (with the processor) as a thinker folder."""
    import transformers

    from engine.backends.base import BackendUnavailable
    from engine.backends.model_folder import inspect_model_folder, processor_folder

    try:
        folder = inspect_model_folder(adapter_dir)
    except BackendUnavailable as exc:
        raise UserError(str(exc)) from None
    if folder.family != "qwen2_5_omni":
        raise UserError(f"{adapter_dir}: the full layout is only written for Qwen2.5-Omni (this is {folder.family})")
    from peft import PeftModel

    base = getattr(transformers, folder.thinker_class).from_pretrained(str(folder.weights), local_files_only=True)
    merged = PeftModel.from_pretrained(base, str(adapter_dir), local_files_only=True).merge_and_unload()
    merged.save_pretrained(out)
    processor = transformers.AutoProcessor.from_pretrained(processor_folder(adapter_dir), local_files_only=True)
    processor.save_pretrained(out)
    return out


def _copy_side_files(source: Path, out: Path) -> None:
    """Tokenizer, processor, chat template and generation config travel unchanged."""
    skip = {"config.json", _WEIGHT_INDEX}
    for path in source.iterdir():
        if path.is_file() and path.suffix != ".safetensors" and path.name not in skip:
            shutil.copy2(path, out / path.name)
