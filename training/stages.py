"""The pipeline: cold-start SFT, curriculum GRPO with stage review and difficulty filtering, full-task
GRPO, each stage starting from the previous stage's final checkpoint, all recorded in the run folder.

Resuming skips done stages, reuses the run's saved samples and filter results, restarts the stage in
progress from its last checkpoint and drops the metric rows logged after that checkpoint (those
steps are redone), so no step is logged twice and none is lost.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import sys
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from training.callbacks import RunFolderCallback, StopFlag
from training.config import (
    ConfigError,
    ModelSettings,
    StageSettings,
    TrainConfig,
    build_trainer_args,
    config_to_dict,
    device_warnings,
    load_config,
    parse_config,
)
from training.curriculum import stage_data
from training.data import TrainSample, load_samples, write_samples
from training.filtering import ModelRollout, StopRequested, run_filter, task_rewards
from training.run_dir import RunDir, is_main_process, now_iso, read_jsonl, wait_for
from training.samplers import balanced_order

log = logging.getLogger("training")
EXIT_DONE, EXIT_FAILED, EXIT_STOPPED = 0, 1, 3
ENCODER_PARTS = {"freeze_vision": "visual", "freeze_audio": "audio_tower"}


@dataclass
class Context:
    run: RunDir
    config: TrainConfig
    stop: StopFlag
    samples: list[TrainSample]


# ---------------------------------------------------------------- entry points
def start_run(config_path: str | Path, out: str | Path, argv: list[str]) -> int:
    config = load_config(config_path)
    problems = device_warnings(config)
    if problems:
        raise UserError(f"{config_path}: {problems[0]}")
    run = RunDir(out, writer=is_main_process())
    run.create(config_to_dict(config), [(s.name, s.kind) for s in config.stages], list(argv))
    return run_pipeline(run, config)


def resume_run(run_dir: str | Path) -> int:
    run = RunDir(run_dir, writer=is_main_process())
    saved = run.open_existing()
    try:
        config = parse_config(saved["config"], f"{run.run_json} (config)")
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    return run_pipeline(run, config)


def run_pipeline(run: RunDir, config: TrainConfig) -> int:
    """Run every stage not done yet; the exit code says done (0), failed (1) or stopped (3)."""
    _setup_logging(run)
    stop = StopFlag()
    _install_signal_handlers(stop)
    run.update(state="running", pid=os.getpid(), error=None)
    run.start_heartbeat()
    try:
        ctx = Context(run, config, stop, [])
        model_path = prepare_model(ctx)
        ctx.samples = prepare_samples(ctx)
        start = model_path
        for index, stage in enumerate(config.stages):
            record = run.stage(stage.name)
            if record["state"] == "done":
                start = Path(record["checkpoint"])
                continue
            if stop():  # stopped between stages: this one stays pending
                return _stopped(run, None)
            outcome = run_stage(ctx, index, start)
            if outcome == "stopped":
                return _stopped(run, stage.name)
            start = Path(run.stage(stage.name)["checkpoint"])
        run.update(state="done", current_stage=None, finished=now_iso())
        log.info("run done")
        return EXIT_DONE
    except StopRequested:
        return _stopped(run, run.status.get("current_stage"))
    except Exception as exc:  # recorded for the studio, then the exit code says failed
        message = f"{type(exc).__name__}: {exc}"
        log.error("run failed: %s\n%s", message, traceback.format_exc())
        current = run.status.get("current_stage")
        if current:
            run.update_stage(current, state="failed", error=message)
        run.update(state="failed", error=message)
        return EXIT_FAILED
    finally:
        run.stop_heartbeat()


def _stopped(run: RunDir, stage: str | None) -> int:
    if stage:
        run.update_stage(stage, state="stopped")
    run.update(state="stopped", stopped=now_iso())
    log.info("stopped; `avr train --resume %s` continues", run.root)
    return EXIT_STOPPED


def _install_signal_handlers(stop: StopFlag) -> None:
    """First SIGINT/SIGTERM: stop at the next step boundary with a checkpoint. A second: stop now."""
    def handle(signum, _frame):
        if stop():
            log.warning("second signal %s: exiting without a checkpoint", signum)
            raise SystemExit(EXIT_STOPPED)
        log.info("signal %s: stopping at the next step boundary (a checkpoint is written)", signum)
        stop.set(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)


def _setup_logging(run: RunDir) -> None:
    handler = logging.FileHandler(run.log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    for name in ("training", "transformers", "trl"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
    log.addHandler(stream)
    log.setLevel(logging.INFO)


# ---------------------------------------------------------------- model and data
def prepare_model(ctx: Context) -> Path:
    """The first stage's starting model: a thinker folder as given; a full-layout checkpoint saved as a
    thinker on its own in the run first (trl rebuilds the reference model from the model's saved path,
    which fails on a thinker taken from a full checkpoint); `tiny`: the tiny model built in the run."""
    from engine.backends.base import BackendUnavailable
    from engine.backends.model_folder import inspect_model_folder

    target = ctx.run.root / "model_init"
    settings = ctx.config.model
    def ready() -> bool:
        return ((target / "config.json").is_file() and any(target.glob("*.safetensors"))
                and any((target / f).is_file() for f in ("processor_config.json", "preprocessor_config.json")))

    if ready():
        return target
    if not ctx.run.writer and (settings.path == "tiny" or _is_full_layout(settings.path)):
        wait_for(ready, f"{target} written by the main process")
        return target
    shutil.rmtree(target, ignore_errors=True)
    if settings.path == "tiny":
        from engine.dev.tiny_model import build_tiny_model

        log.info("building the tiny Qwen2.5-Omni thinker in %s", target)
        build_tiny_model(target, seed=ctx.config.seed)
        return target
    try:
        folder = inspect_model_folder(settings.path)
    except BackendUnavailable as exc:
        raise UserError(f"model.path: {exc}") from None
    if folder.layout != "full" or folder.adapter is not None:
        return Path(settings.path)
    log.info("saving the thinker of the full checkpoint %s on its own in %s", settings.path, target)
    from transformers import AutoProcessor

    model = _thinker_class(folder.thinker_class).from_pretrained(str(folder.weights), dtype="auto")
    _save_in_thinker_layout(model)
    model.save_pretrained(str(target))
    AutoProcessor.from_pretrained(str(folder.weights)).save_pretrained(str(target))
    return target


def _save_in_thinker_layout(model) -> None:
    """Forget the full checkpoint's `thinker.` key prefix transformers noted at load time, so
    save_pretrained writes a thinker's own key names (not thinker-prefixed ones that `avr dev
    full-layout` would prefix a second time)."""
    from transformers.core_model_loading import PrefixChange

    conversions = getattr(model, "_weight_conversions", None)
    if conversions:
        model._weight_conversions = [c for c in conversions if not isinstance(c, PrefixChange)]


def _is_full_layout(path: str) -> bool:
    from engine.backends.model_folder import inspect_model_folder

    folder = inspect_model_folder(path)
    return folder.layout == "full" and folder.adapter is None


def _thinker_class(name: str):
    import transformers

    return getattr(transformers, name)


def prepare_samples(ctx: Context) -> list[TrainSample]:
    """Every data source read once into data/samples.jsonl (a resumed run reads that file back)."""
    path = ctx.run.data_dir() / "samples.jsonl"
    if not ctx.run.writer:
        wait_for(path.is_file, f"{path} written by the main process")
    if path.is_file():
        return load_samples(path)
    from training.data import samples_from_benchmark, samples_from_music_avqa, samples_from_unav100

    samples: list[TrainSample] = []
    for k, source in enumerate(ctx.config.data):
        if source.reader == "jsonl":
            found = load_samples(source.path)
        elif source.reader == "synth":
            dataset = Path(source.path) if source.path else _generate_synth(ctx, k)
            found = samples_from_benchmark(dataset, source.videos, seed=ctx.config.seed)
        elif source.reader == "music_avqa":
            found = samples_from_music_avqa(source.path, source.videos, seed=ctx.config.seed)
        else:
            found = samples_from_unav100(source.path, source.videos, subset=source.subset)
        if source.tasks is not None:
            found = [s for s in found if s.task in source.tasks]
        log.info("data[%d] (%s): %d samples", k, source.reader, len(found))
        samples += found
    if not samples:
        raise UserError("the data sources hold no samples")
    write_samples(path, samples)
    return samples


def _generate_synth(ctx: Context, k: int) -> Path:
    from engine.synth import SynthConfig, generate_benchmark

    g = ctx.config.data[k].generate
    out = ctx.run.data_dir() / f"synth-{k}"
    log.info("generating a synthetic benchmark in %s", out)
    result = generate_benchmark(out, SynthConfig(videos=g.videos, minutes=g.minutes, seed=g.seed, width=g.width,
                                                 height=g.height, fps=g.fps))
    return result.dataset_path


def load_policy(path: Path, settings: ModelSettings):
    """The thinker at `path` (or a LoRA adapter folder on its base, trainable), encoders frozen as configured."""
    import torch

    from engine.backends.model_folder import inspect_model_folder

    folder = inspect_model_folder(path)
    kwargs = {}
    if settings.dtype != "auto":
        kwargs["dtype"] = getattr(torch, settings.dtype)
    if settings.attn_implementation:
        kwargs["attn_implementation"] = settings.attn_implementation
    model = _thinker_class(folder.thinker_class).from_pretrained(str(folder.weights), **kwargs)
    if folder.adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(folder.adapter), is_trainable=True)
    for flag, part in ENCODER_PARTS.items():
        if getattr(settings, flag):
            for name, param in model.named_parameters():
                if part in name.split(".") and "lora_" not in name:
                    param.requires_grad_(False)
    return model


def peft_config(settings: ModelSettings):
    """A LoraConfig for a fresh adapter (None without `model.lora`); frozen encoders get no adapter."""
    if settings.lora is None:
        return None
    from peft import LoraConfig

    targets: list[str] | str = list(settings.lora.target_modules)
    if settings.freeze_vision or settings.freeze_audio:
        targets = rf"model\.language_model\..*\.({'|'.join(settings.lora.target_modules)})"
    return LoraConfig(r=settings.lora.r, lora_alpha=settings.lora.alpha, lora_dropout=settings.lora.dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


# ---------------------------------------------------------------- one stage
def run_stage(ctx: Context, index: int, start: Path) -> str:
    stage = ctx.config.stages[index]
    run = ctx.run
    offset = sum(int(run.stage(s.name).get("step") or 0) for s in ctx.config.stages[:index])
    run.update(current_stage=stage.name)
    run.update_stage(stage.name, state="running", started=now_iso(), start_checkpoint=str(start),
                     global_step_offset=offset, error=None)
    log.info("stage %s (%s) from %s", stage.name, stage.kind, start)
    samples = _stage_samples(ctx, index)
    from transformers import AutoProcessor

    from engine.backends.model_folder import processor_folder
    from training.inputs import MediaCache

    processor = AutoProcessor.from_pretrained(processor_folder(start))
    cache = MediaCache(processor, _input_options(ctx.config))
    model = load_policy(start, ctx.config.model)
    trainer_kind = _train_sft if stage.kind == "sft" else _train_grpo
    return trainer_kind(ctx, stage, samples, model, processor, cache, offset)


def _input_options(config: TrainConfig):
    from training.inputs import InputOptions

    return InputOptions(num_frames=config.inputs.num_frames, audio=config.inputs.audio,
                        max_audio_seconds=config.inputs.max_audio_seconds, max_pixels=config.inputs.max_pixels)


def _stage_samples(ctx: Context, index: int) -> list[TrainSample]:
    """The stage's own + review samples, drawn once and saved (a resumed stage trains on the same)."""
    stage = ctx.config.stages[index]
    path = ctx.run.data_dir() / f"{stage.name}.jsonl"
    if not ctx.run.writer:
        wait_for(path.is_file, f"{path} written by the main process")
    if path.is_file():
        return load_samples(path)
    data = stage_data(ctx.config.stages, index, ctx.samples, ctx.config.seed)
    if not data.samples:
        raise UserError(f"stage {stage.name}: no samples of tasks {', '.join(stage.tasks)} in the data")
    log.info("stage %s: %d own samples + %d review (%.0f%%)", stage.name, len(data.own), len(data.review),
             100 * data.review_fraction)
    ctx.run.update_stage(stage.name, samples=len(data.own), review_samples=len(data.review))
    write_samples(path, data.samples)
    return data.samples


def _common_args(ctx: Context, stage: StageSettings, **extra):
    run = ctx.run
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(run.tensorboard(stage.name))
    return build_trainer_args(stage, run.checkpoints(stage.name), seed=ctx.config.seed, **extra)


def _callback(ctx: Context, stage: StageSettings, offset: int) -> RunFolderCallback:
    return RunFolderCallback(ctx.run, stage.name, offset, ctx.stop, seed=ctx.config.seed)


def _train(ctx: Context, stage: StageSettings, trainer, processor) -> str:
    """Train (from the stage's last checkpoint when resuming); then save final/ or report the stop."""
    run = ctx.run
    resume = run.last_checkpoint(stage.name)
    step = int(resume.name.removeprefix("checkpoint-")) if resume else 0
    dropped = run.forget_steps_after(stage.name, step)
    if resume:
        log.info("stage %s: resuming from %s (%d rows after step %d dropped)", stage.name, resume, dropped, step)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if ctx.stop() and trainer.state.global_step < trainer.state.max_steps:
        return "stopped"  # a stop on the stage's last step still finishes the stage (resume adds no step)
    final = run.final_checkpoint(stage.name)
    trainer.save_model(str(final))  # every process takes part (DeepSpeed gathers); the main one writes
    if run.writer:
        processor.save_pretrained(str(final))
    else:
        wait_for(lambda: (final / "processor_config.json").is_file(), f"{final} written by the main process")
    run.update_stage(stage.name, state="done", step=trainer.state.global_step, checkpoint=str(final),
                     finished=now_iso())
    log.info("stage %s done at step %d", stage.name, trainer.state.global_step)
    return "done"


def _train_sft(ctx, stage, samples, model, processor, cache, offset) -> str:
    from datasets import Dataset
    from trl import SFTTrainer

    from training.trainers import MediaSFTCollator, dataset_row, sft_target

    args = _common_args(ctx, stage, num_train_epochs=stage.epochs)
    rows = [dataset_row(s) | {"completion": sft_target(s)} for s in sft_mix(stage, samples, ctx.config.seed)]
    callback = _callback(ctx, stage, offset)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=processor,
                         data_collator=MediaSFTCollator(processor, cache, args.max_length), callbacks=[callback],
                         peft_config=None if _is_peft(model) else peft_config(ctx.config.model))
    callback.trainer = trainer
    record = ctx.run.stage(stage.name)
    if stage.format_probe and "format_probe_before" not in record:
        ctx.run.update_stage(stage.name, format_probe_before=format_probe(model, processor, cache, samples,
                                                                          stage.format_probe))
    outcome = _train(ctx, stage, trainer, processor)
    if outcome == "done" and stage.format_probe:
        after = format_probe(trainer.model, processor, cache, samples, stage.format_probe)
        ctx.run.update_stage(stage.name, format_probe_after=after)
        log.info("stage %s: format reward of sampled answers %.3f before, %.3f after", stage.name,
                 ctx.run.stage(stage.name)["format_probe_before"], after)
    return outcome


def sft_mix(stage: StageSettings, samples: list[TrainSample], seed: int) -> list[TrainSample]:
    """The SFT stage's rows: its samples as they are, or with `sampling: balanced` every task as often as
    the largest one (smaller tasks repeated, every sample at least once), so rare, long grounding answers
    get as many steps as counting and QA."""
    if stage.sampling != "balanced" or not samples:
        return list(samples)
    largest = max(Counter(s.task for s in samples).values())
    tasks = len({s.task for s in samples})
    return balanced_order(samples, {}, 1, largest * tasks, seed)


PROBE_ROLLOUTS, PROBE_TOKENS = 2, 96


def format_probe(model, processor, cache, samples: list[TrainSample], count: int) -> float:
    """Mean format reward (each sample's task format) of sampled answers to `count` samples taken task
    after task (so grounding is probed too): shows whether the cold-start SFT taught the answer format."""
    from training.rewards import format_reward

    was_training = model.training
    model.eval()
    rollout = ModelRollout(model, processor, cache, PROBE_TOKENS)
    completions, tasks = [], []
    for sample in probe_samples(samples, count):
        completions += rollout(sample, PROBE_ROLLOUTS)
        tasks += [sample.task] * PROBE_ROLLOUTS
    if was_training:
        model.train()
    scores = format_reward(completions, task=tasks)
    return sum(scores) / len(scores) if scores else 0.0


def probe_samples(samples: list[TrainSample], count: int) -> list[TrainSample]:
    """The first sample of each task, then the second of each, ... (`count` in all), in data order."""
    by_task: dict[str, list[TrainSample]] = {}
    for sample in samples:
        by_task.setdefault(sample.task, []).append(sample)
    ranked = sorted(samples, key=lambda s: (by_task[s.task].index(s), list(by_task).index(s.task)))
    return ranked[:count]


def _train_grpo(ctx, stage, samples, model, processor, cache, offset) -> str:
    from datasets import Dataset

    from training.rewards import REWARDS
    from training.trainers import MediaGRPOTrainer, dataset_row

    args = _common_args(ctx, stage, shuffle_dataset=False, num_train_epochs=1)
    ordered = _filtered_epochs(ctx, stage, samples, model, processor, cache, args)
    prompts_per_batch = max(1, args.generation_batch_size // args.num_generations)
    if len(ordered) < prompts_per_batch:  # trl would train 0 steps on it, silently
        log.warning("stage %s: the filter left %d samples, fewer than the %d prompts of one generation batch; "
                    "the stage is skipped", stage.name, len(ordered), prompts_per_batch)
        ctx.run.update_stage(stage.name, state="done", step=0, total_steps=0, checkpoint=str(_start_of(ctx, stage)),
                             finished=now_iso())
        return "done"
    callback = _callback(ctx, stage, offset)
    trainer = MediaGRPOTrainer(model=model, reward_funcs=[REWARDS[name] for name in stage.rewards], args=args,
                               train_dataset=Dataset.from_list([dataset_row(s) for s in ordered]),
                               processing_class=processor, media_cache=cache, callbacks=[callback],
                               peft_config=None if _is_peft(model) else peft_config(ctx.config.model))
    callback.trainer = trainer
    return _train(ctx, stage, trainer, processor)


def _start_of(ctx: Context, stage: StageSettings) -> str:
    return ctx.run.stage(stage.name)["start_checkpoint"]


def _is_peft(model) -> bool:
    return hasattr(model, "peft_config")


def _filtered_epochs(ctx, stage, samples, model, processor, cache, args) -> list[TrainSample]:
    """Per epoch: filter with the stage's starting policy (before any update, so every epoch's filter
    is done up front), then order (balanced or shuffled); the epochs are concatenated."""
    ordered: list[TrainSample] = []
    pass_rates: dict[str, float] = {}
    for epoch in range(stage.epochs):
        kept = list(samples)
        if stage.filter is not None and stage.filter.enabled:
            kept, rates = _filter_epoch(ctx, stage, epoch, samples, model, processor, cache, args)
            pass_rates.update(rates)
        seed = ctx.config.seed * 1000 + epoch
        if stage.sampling == "balanced":
            ordered += balanced_order(kept, pass_rates, stage.difficulty_buckets, len(kept), seed)
        else:
            random.Random(seed).shuffle(kept)
            ordered += kept
    return ordered


def _filter_epoch(ctx, stage, epoch, samples, model, processor, cache, args):
    settings = stage.filter
    if not ctx.run.writer:  # the main process rolls out; the others read its results
        wait_for(lambda: any(r.get("stage") == stage.name and r.get("epoch") == epoch
                             for r in read_jsonl(ctx.run.filter_log)), f"the filter of {stage.name}")
    rollout = ModelRollout(model, processor, cache, settings.max_new_tokens or args.max_completion_length,
                           temperature=args.temperature)
    log.info("stage %s epoch %d: filtering %d samples with %d rollouts each", stage.name, epoch, len(samples),
             settings.rollouts)
    result = run_filter(samples, rollout, settings.rollouts, ctx.run.filter_results(stage.name, epoch),
                        task_rewards(list(stage.rewards)), settings.iou_threshold, ctx.stop)
    counts = result.counts()
    logged = any(r.get("stage") == stage.name and r.get("epoch") == epoch for r in read_jsonl(ctx.run.filter_log))
    if not logged:
        ctx.run.log_filter({"stage": stage.name, "epoch": epoch, "time": now_iso(), **counts})
    log.info("stage %s epoch %d filter: %s", stage.name, epoch, counts)
    return list(result.kept), {sid: o.pass_rate for sid, o in result.outcomes.items()}
