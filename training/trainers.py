"""Thin trl subclasses so video and audio reach every forward, not only generation.

trl 1.16's GRPOTrainer builds loss-time media tensors only for images (trl issues #4144 and #5373):
with video/audio prompts it could generate from the media but compute the old-policy, reference
and policy log-probs without them, so vision and audio get exactly zero gradient. Four overrides fix
that, each small:

- `_generate_and_score_completions`: look up each row's processor outputs (decoded and processed
  once per prompt, shared by its generations; `MediaCache`), keep them for this generation batch,
  and tag every row with `media_index` so trl's shuffling and splitting keep rows and media paired;
- `_tokenize_prompts`: the prompt ids and batched media come from our processor call (the layout of
  the `transformers` backend), not from trl's chat-template pass;
- `_get_per_token_logps_and_entropies`: the same fused-head forward as trl, plus the rows' media;
- `_compute_loss`: selects the media of the rows in this micro-batch for the policy forward.

Text-only batches take trl's own code path unchanged. These override private trl methods: the trl
version is pinned (pyproject `trl==1.16.*`) and `tests/training` checks the pin.

SFT needs no trainer override (trl's fused forward passes every input through to the thinker's
multimodal base model); `MediaSFTCollator` builds the media tensors and masks the prompt in the labels.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from trl import GRPOTrainer

from training.data import TrainSample, sample_from_json
from training.inputs import MediaCache, collate_media, media_of

TESTED_TRL_MINOR = "1.16"
# Placeholder and boundary tokens of the media: a completion must never contain them (the loss-time
# forward would scatter media features into them), so generation suppresses them.
MEDIA_TOKENS = ("<|AUDIO|>", "<|IMAGE|>", "<|VIDEO|>", "<|audio_bos|>", "<|audio_eos|>", "<|vision_bos|>",
                "<|vision_eos|>")


def sample_of_row(row: dict) -> TrainSample:
    """The TrainSample a dataset row carries (column `sample`, its JSON)."""
    return sample_from_json(json.loads(row["sample"]), f"row {row.get('sample_id', '?')}")


def dataset_row(sample: TrainSample) -> dict:
    """A trainer dataset row: the prompt (plain text, for trl's logs), the columns rewards read
    (task, solution), and the whole sample for the media lookup."""
    return {"prompt": sample.question, "task": sample.task, "solution": sample.solution, "sample_id": sample.id,
            "sample": json.dumps(sample.to_json())}


def check_trl_version() -> str:
    """The installed trl version; RuntimeError if it is not the minor these overrides were tested on."""
    import trl

    if ".".join(trl.__version__.split(".")[:2]) != TESTED_TRL_MINOR:
        raise RuntimeError(f"training/trainers.py overrides private methods of trl {TESTED_TRL_MINOR}.x; "
                           f"trl {trl.__version__} is installed (pip install 'trl=={TESTED_TRL_MINOR}.*')")
    return trl.__version__


def media_token_ids(processor) -> list[int]:
    """Ids of MEDIA_TOKENS the processor's tokenizer knows."""
    tokenizer = getattr(processor, "tokenizer", processor)
    vocab = tokenizer.get_vocab()
    return [vocab[t] for t in MEDIA_TOKENS if t in vocab]


class MediaGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose old-policy, reference and policy forwards see each row's video and audio."""

    def __init__(self, *args: Any, media_cache: MediaCache, **kwargs: Any) -> None:
        check_trl_version()
        self.media_cache = media_cache
        self._rows_media: list[dict] | None = None  # media of the rows of the forward in progress
        self._generation_media: dict[str, list[dict]] = {}  # per mode: media of the last generation batch
        super().__init__(*args, **kwargs)
        suppressed = media_token_ids(self.processing_class)
        if suppressed:
            self.generation_config.suppress_tokens = sorted(set(self.generation_config.suppress_tokens or [])
                                                            | set(suppressed))

    def _generate_and_score_completions(self, inputs: list[dict]) -> dict:
        mode = "train" if self.model.training else "eval"
        if "sample" not in inputs[0]:  # text-only rows: trl's own path
            self._generation_media.pop(mode, None)
            return super()._generate_and_score_completions(inputs)
        rows = [self.media_cache.get(sample_of_row(row)) for row in inputs]
        self._rows_media = rows
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._rows_media = None
        self._generation_media[mode] = rows
        output["media_index"] = torch.arange(len(inputs), device=self.accelerator.device)
        return output

    def _tokenize_prompts(self, prompts: list):
        rows = self._rows_media
        if rows is None:
            return super()._tokenize_prompts(prompts)
        prompt_ids = [row["input_ids"][0].tolist() for row in rows]
        return prompt_ids, None, collate_media([media_of(row) for row in rows])

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **image_kwargs):
        rows = self._rows_media
        if rows is None or not any(media_of(row) for row in rows):
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **image_kwargs)
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids, mask = input_ids[start:end], attention_mask[start:end]
            media = collate_media([media_of(row) for row in rows[start:end]])
            media = {k: v.to(self.accelerator.device) for k, v in media.items()}
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100
            extra = {"output_router_logits": True} if compute_aux_loss else {}
            with self.accelerator.autocast():
                outputs = model(input_ids=ids, attention_mask=mask, **media, **extra, labels=labels,
                                fused_lm_head=True)
            all_logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                all_entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        aux = torch.stack(all_aux).mean() if compute_aux_loss else None
        return logps, entropies, aux

    def _compute_loss(self, model, inputs):
        mode = "train" if self.model.training else "eval"
        media = self._generation_media.get(mode)
        if media is None or "media_index" not in inputs:
            return super()._compute_loss(model, inputs)
        self._rows_media = [media[i] for i in inputs["media_index"].tolist()]
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._rows_media = None


class MediaSFTCollator:
    """SFT batches: prompt ids and media from the sample's processor call, the target answer appended,
    prompt and padding masked out of the labels (-100)."""

    def __init__(self, processor, media_cache: MediaCache, max_length: int | None = None) -> None:
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.media_cache = media_cache
        self.max_length = max_length
        # the end-of-turn token closes the answer, as engine.backends.qwen_inputs closes a completion
        self.end_ids = self.tokenizer(self.tokenizer.eos_token or "<|im_end|>", add_special_tokens=False)["input_ids"]

    def __call__(self, examples: list[dict]) -> dict:
        rows, sequences, labels = [], [], []
        for example in examples:
            entry = self.media_cache.get(sample_of_row(example))
            prompt = entry["input_ids"][0].tolist()
            target = self.tokenizer(example["completion"], add_special_tokens=False)["input_ids"] + self.end_ids
            sequence = prompt + target
            label = [-100] * len(prompt) + target
            if self.max_length is not None and len(sequence) > self.max_length:
                raise ValueError(f"sample {example.get('sample_id')}: {len(sequence)} tokens exceed max_length "
                                 f"{self.max_length} (media tokens cannot be cut); raise max_length")
            rows.append(media_of(entry))
            sequences.append(sequence)
            labels.append(label)
        longest = max(len(s) for s in sequences)
        pad = self.tokenizer.pad_token_id
        batch = {
            "input_ids": torch.tensor([s + [pad] * (longest - len(s)) for s in sequences]),
            "attention_mask": torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in sequences]),
            "labels": torch.tensor([lab + [-100] * (longest - len(lab)) for lab in labels]),
        }
        batch.update(collate_media(rows))
        return batch


def sft_target(sample: TrainSample) -> str:
    """The cold-start SFT answer: the answer format with the solution (the synthetic and public data
    carry no reasoning text, so the thinking part is a short task cue). Numbers are written compactly
    (no spaces, whole numbers without ".0"), so grounding answers stay short enough to be learned and
    to fit a completion: a 4-box spatial answer is ~60 tokens instead of ~120."""
    value = sample.solution_value
    answer = value if isinstance(value, str) else compact_json(value)
    return f"<think>{SFT_THINK[sample.task]}</think><answer>{answer}</answer>"


def compact_json(value: Any) -> str:
    """JSON without spaces; when every number is whole (pixel boxes) they are written as integers, else
    as JSON writes floats (seconds keep one pattern, "2.0" next to "1.6", which a small model learns
    more easily than numbers of varying shape).

    >>> compact_json({"Frame1": [[83.0, 39.0, 94.0, 49.0]]}), compact_json([[1.6, 2.0]])
    ('{"Frame1":[[83,39,94,49]]}', '[[1.6,2.0]]')
    """
    numbers = list(_numbers(value))
    whole = bool(numbers) and all(float(n).is_integer() for n in numbers)

    def tidy(item: Any) -> Any:
        if isinstance(item, list):
            return [tidy(v) for v in item]
        if isinstance(item, dict):
            return {k: tidy(v) for k, v in item.items()}
        return int(item) if whole and isinstance(item, float) else item

    return json.dumps(tidy(value), separators=(",", ":"))


def _numbers(value: Any):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


SFT_THINK = {"counting": "I count.", "qa": "I compare.", "temporal_grounding": "I find the times.",
             "spatial_grounding": "I find the boxes."}
