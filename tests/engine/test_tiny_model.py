"""`avr dev tiny-model` / `avr dev full-layout`: a real Qwen2.5-Omni at toy size, built and loaded offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.dev.full_layout import wrap_full_layout
from engine.dev.tiny_model import REASONING_TOKENS
from engine.errors import UserError

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _video_audio_inputs(processor):
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "Frame1 sampled at 0.5 seconds"}, {"type": "video"}, {"type": "audio"},
        {"type": "text", "text": "How many times does the dog bark?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (4, 96, 160, 3), dtype=np.uint8)
    audio = (0.1 * rng.standard_normal(16000 * 3)).astype(np.float32)
    size = {"shortest_edge": 4 * 28 * 28, "longest_edge": 64 * 28 * 28}
    return processor(text=[text], videos=[frames], audio=[audio], fps=2.0, return_tensors="pt",
                     videos_kwargs={"size": size}, audio_kwargs={"truncation": False})


def test_tiny_thinker_generates_from_video_and_audio(tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_model_dir, local_files_only=True)
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_model_dir, local_files_only=True)
    ran = []
    model.model.visual.register_forward_hook(lambda *_: ran.append("vision"))
    model.model.audio_tower.register_forward_hook(lambda *_: ran.append("audio"))
    inputs = _video_audio_inputs(processor)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > inputs["input_ids"].shape[1]
    assert sorted(set(ran)) == ["audio", "vision"]


def test_reasoning_tags_are_ordinary_single_tokens(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    text = "<think>two barks</think><answer>2</answer>"
    ids = tokenizer(text).input_ids
    for tag in REASONING_TOKENS:
        assert tokenizer.convert_tokens_to_ids(tag) in ids
        assert tag not in tokenizer.all_special_tokens
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert tokenizer.decode(tokenizer("<|im_start|>hi<|im_end|>").input_ids, skip_special_tokens=True) == "hi"


def test_full_layout_rewrap_keeps_every_weight(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from transformers import Qwen2_5OmniForConditionalGeneration, Qwen2_5OmniThinkerForConditionalGeneration

    full_dir = wrap_full_layout(tiny_model_dir, tmp_path / "full")
    config = json.loads((full_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2_5OmniForConditionalGeneration"]
    assert config["enable_audio_output"] is False
    thinker = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_model_dir)
    full = Qwen2_5OmniForConditionalGeneration.from_pretrained(full_dir)
    expected = thinker.state_dict()
    got = full.thinker.state_dict()
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    # The thinker class loads from the full layout too (what the transformers backend relies on).
    again = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(full_dir)
    ids = torch.tensor([[1, 20, 30, 40]])
    with torch.no_grad():
        assert torch.equal(again(input_ids=ids).logits, thinker(input_ids=ids).logits)


def test_full_layout_refuses_bad_folders(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no config.json"):
        wrap_full_layout(tmp_path, tmp_path / "out")
    full_dir = wrap_full_layout(tiny_model_dir, tmp_path / "full")
    with pytest.raises(UserError, match="already a full"):
        wrap_full_layout(full_dir, tmp_path / "again")
    with pytest.raises(UserError, match="not empty"):
        wrap_full_layout(tiny_model_dir, full_dir)


def test_full_layout_of_a_lora_adapter_holds_the_merged_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    base = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_model_dir)
    config = LoraConfig(r=4, lora_alpha=8, init_lora_weights=False,
                        target_modules=r".*model\.layers\.\d+\.self_attn\.(q_proj|v_proj)")
    adapted = get_peft_model(base, config)
    adapted.save_pretrained(tmp_path / "adapter")
    ids = torch.tensor([[1, 20, 30, 40]])
    with torch.no_grad():
        expected = adapted(input_ids=ids).logits
    full_dir = wrap_full_layout(tmp_path / "adapter", tmp_path / "full")
    thinker = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(full_dir)
    with torch.no_grad():
        got = thinker(input_ids=ids).logits
    assert torch.allclose(got, expected, atol=1e-5)
    assert (full_dir / "tokenizer.json").is_file() and (full_dir / "processor_config.json").is_file()


@pytest.mark.slow
def test_cli_tiny_model_full_layout_loads_and_generates_offline(tmp_path: Path) -> None:
    out = tmp_path / "tiny-full"
    done = subprocess.run([sys.executable, "-m", "engine.cli", "dev", "tiny-model", str(out), "--full-layout"],
                          env=OFFLINE_ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "full Qwen2.5-Omni" in done.stdout
    script = textwrap.dedent(f"""
        import torch
        from transformers import AutoProcessor, Qwen2_5OmniForConditionalGeneration
        processor = AutoProcessor.from_pretrained({str(out)!r})
        model = Qwen2_5OmniForConditionalGeneration.from_pretrained({str(out)!r})
        ids = processor(text=["<|im_start|>user\\nhello<|im_end|>\\n<|im_start|>assistant\\n"],
                        return_tensors="pt").input_ids
        out = model.thinker.generate(input_ids=ids, max_new_tokens=5, do_sample=False)
        print("NEW_TOKENS", out.shape[1] - ids.shape[1])
    """)
    run = subprocess.run([sys.executable, "-c", script], env=OFFLINE_ENV, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "NEW_TOKENS 5" in run.stdout


def test_cli_refuses_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    done = subprocess.run([sys.executable, "-m", "engine.cli", "dev", "tiny-model", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not empty" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_the_qwen3_omni_thinker_class_reads_a_full_layout(tmp_path: Path) -> None:
    """What the transformers backend relies on for Qwen3-Omni full checkpoints (`thinker.` keys)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeThinkerForConditionalGeneration

    from engine.backends.model_folder import inspect_model_folder
    from engine.dev.tiny_model import build_tiny_model

    thinker_dir = build_tiny_model(tmp_path / "thinker", family="qwen3_omni")
    full_dir = tmp_path / "full"
    full_dir.mkdir()
    with safe_open(str(thinker_dir / "model.safetensors"), "pt") as reader:
        save_file({f"thinker.{k}": reader.get_tensor(k) for k in reader.keys()}, str(full_dir / "model.safetensors"),
                  metadata={"format": "pt"})
    thinker_config = json.loads((thinker_dir / "config.json").read_text())
    thinker_config.pop("architectures")
    Qwen3OmniMoeConfig(thinker_config=thinker_config, enable_audio_output=False).save_pretrained(full_dir)
    folder = inspect_model_folder(full_dir)
    assert (folder.family, folder.layout) == ("qwen3_omni", "full")
    ids = torch.tensor([[1, 20, 30, 40]])
    with torch.no_grad():
        expected = Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(thinker_dir)(input_ids=ids).logits
        got = Qwen3OmniMoeThinkerForConditionalGeneration.from_pretrained(full_dir)(input_ids=ids).logits
    assert torch.equal(got, expected)
