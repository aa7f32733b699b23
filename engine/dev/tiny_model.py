"""A tiny, randomly initialised Qwen2.5-Omni built entirely offline (no hub, no weights).

Tests, the training smoke config and users without weights share it. The thinker is the real
transformers class at toy sizes; the processor is the real `Qwen2_5OmniProcessor` around a
byte-level BPE tokenizer trained here with `tokenizers`, carrying the omni special tokens.
`<think>`, `</think>`, `<answer>`, `</answer>` are ordinary added tokens (not special), because
trainers decode with special tokens skipped and the format reward must still see them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.errors import UserError

# The omni special tokens, in the order the real checkpoint numbers them (after <|endoftext|>).
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_bos|>", "<|vision_eos|>",
    "<|vision_pad|>", "<|IMAGE|>", "<|VIDEO|>",
)
# Named tokens the processor reads as tokenizer attributes (image_token, audio_bos_token, ...).
NAMED_MULTIMODAL_TOKENS: dict[str, str] = {
    "image_token": "<|IMAGE|>", "audio_token": "<|AUDIO|>", "video_token": "<|VIDEO|>",
    "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
}
REASONING_TOKENS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")
BPE_VOCAB_SIZE = 640

# Chat template branching on content["type"] only (transformers' multimodal chat handling
# relies on that); the frame times travel as text parts around the one video part.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Toy sizes: text head_dim = 32 / 2 = 16, so mrope_section must sum to 8.
_TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
             num_key_value_heads=1, max_position_embeddings=32768,
             rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]})
_VISION = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14,
               spatial_merge_size=2, temporal_patch_size=2, window_size=112, out_hidden_size=32,
               fullatt_block_indexes=[1])
_AUDIO = dict(num_mel_bins=128, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
              d_model=32, output_dim=32, max_source_positions=1500, n_window=100)


FAMILIES = ("qwen2_5_omni", "qwen3_omni")
# Vision patch size per family (merge 2): Qwen2.5-Omni 14 px, Qwen3-Omni 16 px.
_PATCH = {"qwen2_5_omni": 14, "qwen3_omni": 16}


def build_tiny_model(out_dir: str | Path, full_layout: bool = False, seed: int = 0,
                     family: str = "qwen2_5_omni") -> Path:
    """Write a tiny thinker (or, with `full_layout`, a full Qwen2.5-Omni) plus its processor.

    `family="qwen3_omni"` writes a tiny Qwen3-Omni (MoE) thinker instead (thinker layout only).
    """
    out = Path(out_dir)
    if family not in FAMILIES:
        raise UserError(f"unknown model family {family!r}; choose from {', '.join(FAMILIES)}")
    if full_layout and family != "qwen2_5_omni":
        raise UserError("--full-layout is only available for Qwen2.5-Omni")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out} is not empty; choose a new folder for the tiny model")
    import torch

    out.mkdir(parents=True, exist_ok=True)
    processor = build_tiny_processor(family)
    torch.manual_seed(seed)
    thinker = _build_thinker(processor.tokenizer, family)
    if not full_layout:
        thinker.save_pretrained(out)
        processor.save_pretrained(out)
        return out
    with tempfile.TemporaryDirectory(prefix="avr-tiny-thinker-") as tmp:
        thinker.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        out.rmdir()
        from engine.dev.full_layout import wrap_full_layout

        return wrap_full_layout(tmp, out)


def build_tiny_processor(family: str = "qwen2_5_omni"):
    """The family's real processor around a freshly trained byte-level BPE tokenizer."""
    import transformers

    patch = _PATCH[family]
    factor = 2 * patch
    size = {"shortest_edge": 4 * factor * factor, "longest_edge": 64 * factor * factor}
    processor_class = transformers.Qwen2_5OmniProcessor if family == "qwen2_5_omni" else transformers.Qwen3OmniMoeProcessor
    return processor_class(
        image_processor=transformers.Qwen2VLImageProcessor(size=size, patch_size=patch, merge_size=2,
                                                           temporal_patch_size=2),
        video_processor=transformers.Qwen2VLVideoProcessor(size=size, patch_size=patch, merge_size=2,
                                                           temporal_patch_size=2),
        feature_extractor=transformers.WhisperFeatureExtractor(feature_size=128, sampling_rate=16000),
        tokenizer=_build_tokenizer(),
        chat_template=CHAT_TEMPLATE,
    )


def _build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_SIZE, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=list(SPECIAL_TOKENS))
    bpe.train_from_iterator(_training_corpus(), trainer=trainer)
    tokenizer = Qwen2Tokenizer(
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None,
        bos_token=None, extra_special_tokens=dict(NAMED_MULTIMODAL_TOKENS), model_max_length=32768,
    )
    tokenizer.add_tokens(list(REASONING_TOKENS), special_tokens=False)
    return tokenizer


def _training_corpus() -> list[str]:
    """Text shaped like our prompts and answers, so common words get merged."""
    lines = [
        "This is a video: Frame1 sampled at 0.5 seconds. How many times does the dog bark?",
        "<think>I count the events one by one.</think><answer>3</answer>",
        '[["start_time", "end_time"], [12.5, 14.0]] {"Frame1": [[10, 20, 30, 40]]}',
        "The answer is 0 1 2 3 4 5 6 7 8 9 10 seconds, objects, sounds, attribute, event.",
        "Please count the number of red balls that appear in the video and answer with a number.",
        "You are a helpful assistant. user assistant system",
    ]
    return lines * 20


def _build_thinker(tokenizer, family: str):
    import transformers

    if family == "qwen2_5_omni":
        config = transformers.Qwen2_5OmniThinkerConfig(**_qwen2_5_config_kwargs(tokenizer))
        model = transformers.Qwen2_5OmniThinkerForConditionalGeneration(config)
    else:
        config = transformers.Qwen3OmniMoeThinkerConfig(**_qwen3_config_kwargs(tokenizer))
        model = transformers.Qwen3OmniMoeThinkerForConditionalGeneration(config)
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"),
                                            tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval()


def _token_ids(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        audio_start_token_id=ids("<|audio_bos|>"), audio_end_token_id=ids("<|audio_eos|>"),
        user_token_id=ids("user") if "user" in tokenizer.get_vocab() else 0,
        # Read by the position-id code though not a declared config field.
        vision_start_token_id=ids("<|vision_bos|>"), vision_end_token_id=ids("<|vision_eos|>"),
    )


def _text_config(tokenizer, **more) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(_TEXT, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                eos_token_id=ids("<|im_end|>"), bos_token_id=ids("<|endoftext|>"), **more)


def _qwen2_5_config_kwargs(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        text_config=_text_config(tokenizer), vision_config=dict(_VISION), audio_config=dict(_AUDIO),
        audio_token_index=ids("<|AUDIO|>"), image_token_index=ids("<|IMAGE|>"), video_token_index=ids("<|VIDEO|>"),
        **_token_ids(tokenizer),
    )


def _qwen3_config_kwargs(tokenizer) -> dict:
    """Qwen3-Omni (MoE): 4 experts, 2 per token; 16 px patches; interleaved M-RoPE."""
    ids = tokenizer.convert_tokens_to_ids
    text = _text_config(tokenizer, head_dim=16, moe_intermediate_size=32, num_experts=4, num_experts_per_tok=2)
    text["rope_parameters"] = dict(text["rope_parameters"], interleaved=True)
    vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16, spatial_merge_size=2,
                  temporal_patch_size=2, out_hidden_size=32, num_position_embeddings=64, deepstack_visual_indexes=[1])
    audio = dict(encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32, output_dim=32,
                 downsample_hidden_size=16, num_mel_bins=128)
    return dict(text_config=text, vision_config=vision, audio_config=audio, audio_token_id=ids("<|AUDIO|>"),
                image_token_id=ids("<|IMAGE|>"), video_token_id=ids("<|VIDEO|>"), **_token_ids(tokenizer))
