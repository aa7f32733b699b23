"""Why MediaGRPOTrainer exists: with it, video and audio reach the loss (non-zero encoder gradients,
log-probs that change with the frames and the audio); with trl's own loss path they do not."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
trl = pytest.importorskip("trl")

from training.data import samples_from_benchmark  # noqa: E402
from training.inputs import InputOptions, MediaCache, collate_media, media_of  # noqa: E402
from training.trainers import MediaGRPOTrainer, dataset_row  # noqa: E402


def varied_reward(completions, **kwargs):
    """A reward that differs between completions (a random model earns none from the task rewards,
    and zero advantages would mean zero gradients whatever the inputs)."""
    return [float(len(str(c)) % 5) / 4 for c in completions]


class GradProbe:
    """Records the gradient norms of the vision and audio encoders just before the optimizer step."""

    def __init__(self) -> None:
        self.norms: dict[str, float] = {}

    def callback(self):
        from transformers import TrainerCallback

        probe = self

        class Record(TrainerCallback):
            def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
                for part in ("visual", "audio_tower"):
                    grads = [p.grad for n, p in model.named_parameters() if part in n.split(".") and p.grad is not None]
                    probe.norms[part] = float(sum(g.norm() ** 2 for g in grads) ** 0.5) if grads else 0.0

        return Record()


class StockLossGRPOTrainer(trl.GRPOTrainer):
    """trl as it ships for video/audio prompts: generation gets the media, the loss-time forwards do
    not (only `_tokenize_prompts` is replaced, to hand the same prompt ids and media to generate)."""

    def __init__(self, *args, media_cache, **kwargs):
        self.media_cache = media_cache
        self._rows = None
        super().__init__(*args, **kwargs)

    def _generate_and_score_completions(self, inputs):
        from training.trainers import sample_of_row

        self._rows = [self.media_cache.get(sample_of_row(r)) for r in inputs]
        return super()._generate_and_score_completions(inputs)

    def _tokenize_prompts(self, prompts):
        return ([r["input_ids"][0].tolist() for r in self._rows], None,
                collate_media([media_of(r) for r in self._rows]))


@pytest.fixture(scope="module")
def av_sample(tmp_path_factory):
    from engine.synth import SynthConfig, generate_benchmark

    out = tmp_path_factory.mktemp("av-synth")
    generate_benchmark(out, SynthConfig(videos=1, minutes=0.1, width=128, height=72, fps=5))
    return next(s for s in samples_from_benchmark(out / "dataset.json") if s.task == "counting")


def one_step(trainer_cls, model_dir, sample, tmp_path):
    from datasets import Dataset
    from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    processor = AutoProcessor.from_pretrained(model_dir)
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(model_dir)  # encoders left unfrozen
    cache = MediaCache(processor, InputOptions(num_frames=2))
    args = trl.GRPOConfig(output_dir=str(tmp_path), bf16=False, per_device_train_batch_size=4, num_generations=4,
                          max_completion_length=8, max_steps=1, learning_rate=0.0, report_to=[], save_strategy="no",
                          activation_checkpointing=False, logging_steps=1, seed=3)
    probe = GradProbe()
    trainer = trainer_cls(model=model, reward_funcs=[varied_reward], args=args, processing_class=processor,
                          train_dataset=Dataset.from_list([dataset_row(sample)] * 4), media_cache=cache,
                          callbacks=[probe.callback()])
    trainer.train()
    return trainer, probe, cache


@pytest.mark.slow
def test_media_reach_the_loss_with_our_trainer_and_not_with_stock_trl(tiny_model_dir, av_sample, tmp_path):
    ours, probe, cache = one_step(MediaGRPOTrainer, str(tiny_model_dir), av_sample, tmp_path / "ours")
    assert probe.norms["visual"] > 0 and probe.norms["audio_tower"] > 0, probe.norms
    assert cache.processed == 1  # decoded and processed once for the prompt and its 4 generations

    _, stock_probe, _ = one_step(StockLossGRPOTrainer, str(tiny_model_dir), av_sample, tmp_path / "stock")
    assert stock_probe.norms == {"visual": 0.0, "audio_tower": 0.0}, stock_probe.norms

    # Per-token log-probs of one fixed completion, with the frames or the audio changed.
    entry = cache.get(av_sample)
    completion = torch.tensor([[ours.processing_class.tokenizer.convert_tokens_to_ids("<answer>")] * 6])
    ids = torch.cat([entry["input_ids"], completion], dim=1)
    mask = torch.ones_like(ids)
    media = media_of(entry)
    changed_frames = {**media, "pixel_values_videos": media["pixel_values_videos"] + 1.0}
    changed_audio = {**media, "input_features": torch.flip(media["input_features"], dims=[-1])}

    def logps(rows_media):
        ours._rows_media = [rows_media]
        try:
            with torch.no_grad():
                return ours._get_per_token_logps_and_entropies(ours.model, ids, mask, 6)[0]
        finally:
            ours._rows_media = None

    base = logps(media)
    assert (logps(changed_frames) - base).abs().max() > 1e-5
    assert (logps(changed_audio) - base).abs().max() > 1e-5
    # trl's own method has no way to receive the media: its log-probs are those of the text alone.
    with torch.no_grad():
        stock = trl.GRPOTrainer._get_per_token_logps_and_entropies(ours, ours.model, ids, mask, 6)[0]
    assert (stock - base).abs().max() > 1e-5


def test_trl_is_the_tested_minor_and_pinned():
    from pathlib import Path

    from training.trainers import TESTED_TRL_MINOR, check_trl_version

    assert check_trl_version().startswith(TESTED_TRL_MINOR + ".")
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert f'"trl=={TESTED_TRL_MINOR}.*"' in pyproject


def test_dataset_row_round_trips_the_sample(av_sample):
    from training.trainers import sample_of_row

    row = dataset_row(av_sample)
    assert sample_of_row(row) == av_sample
    assert json.loads(row["solution"]) == av_sample.solution_value and row["task"] == "counting"
