"""One YAML file describes the whole pipeline; validated here with messages that name the field path.

Each stage's `trainer:` block holds trl's own `SFTConfig` / `GRPOConfig` fields, so trl's
documentation applies; `check_trainer_fields` (which imports trl's config classes, never a model)
checks their names, types and, where trl's help lists them, their allowed values.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.errors import UserError
from training.rewards import REWARDS, task_of

Task = Literal["qa", "temporal_grounding", "spatial_grounding", "counting"]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Trainer fields `avr train` sets itself (the run folder owns them).
MANAGED_TRAINER_FIELDS = {
    "output_dir": "checkpoints go to <run>/checkpoints/<stage>",
    "run_name": "the stage name is used",
    "resume_from_checkpoint": "use `avr train --resume RUN_DIR`",
    "num_train_epochs": "set the stage's `epochs` (GRPO filters before each epoch)",
    "reward_weights": "set weights in the stage's `rewards:` mapping",
    "remove_unused_columns": "media columns must reach the trainer (always false)",
    "dataset_kwargs": "the SFT collator prepares samples (skip_prepare_dataset)",
}


class ConfigError(UserError):
    """A training config that cannot be used; `problems` lists (field path, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(f"{path}: {msg}" if path else msg for path, msg in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSettings(_Strict):
    """LoRA through peft; checkpoints are then adapters on the base model."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class ModelSettings(_Strict):
    path: str = Field(description="a transformers model folder (a Qwen2.5-Omni thinker), or `tiny`")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] | None = None
    freeze_vision: bool = True
    freeze_audio: bool = True
    lora: LoraSettings | None = None


class InputSettings(_Strict):
    """How a sample's media reach the model (the transformers backend's layout: one video)."""

    num_frames: int = Field(16, ge=2, description="frames per clip when a sample does not say")
    audio: bool = True
    max_audio_seconds: float = Field(600.0, gt=0)
    max_pixels: int | None = Field(None, ge=784, description="per-frame pixel budget (default: the backend's)")


class SynthGenerate(_Strict):
    videos: int = Field(2, ge=1)
    minutes: float = Field(0.2, gt=0, le=60)
    width: int = 128
    height: int = 72
    fps: float = 5.0
    seed: int = 0


class DataSource(_Strict):
    reader: Literal["jsonl", "synth", "music_avqa", "unav100"] = "jsonl"
    path: str | None = Field(None, description="JSONL file, benchmark JSON or annotation file")
    videos: str | None = None
    subset: str = "train"
    generate: SynthGenerate | None = Field(None, description="synth only: generate a benchmark in the run folder")
    tasks: list[Task] | None = None

    @model_validator(mode="after")
    def _needs_a_path(self) -> DataSource:
        if self.path is None and self.generate is None:
            raise ValueError("give `path` (or, for reader synth, a `generate:` block)")
        if self.generate is not None and self.reader != "synth":
            raise ValueError("`generate` works only with reader: synth")
        if self.reader in ("music_avqa", "unav100") and self.videos is None:
            raise ValueError(f"reader {self.reader} needs `videos` (the folder of <video_id>.mp4 files)")
        return self


class FilterSettings(_Strict):
    """Offline difficulty filtering with k rollouts of the stage's starting policy, before each epoch."""

    enabled: bool = True
    rollouts: int = Field(5, ge=1)
    iou_threshold: float = Field(0.9, ge=0.0, le=1.0)
    max_new_tokens: int | None = Field(None, ge=1, description="default: the stage's max_completion_length")


class StageSettings(_Strict):
    name: str
    kind: Literal["sft", "grpo"]
    tasks: list[Task] = Field(min_length=1)
    review_share: float = Field(0.2, ge=0.0, lt=1.0, description="share of samples from earlier curriculum stages")
    sampling: Literal["shuffle", "balanced"] = "shuffle"
    difficulty_buckets: int = Field(3, ge=1)
    epochs: int = Field(1, ge=1)
    max_samples: int | None = Field(None, ge=1)
    filter: FilterSettings | None = None
    format_probe: int = Field(4, ge=0, description="sft: samples whose sampled answers are format-checked "
                                                   "before and after the stage (0: off)")
    rewards: dict[str, float] = Field(default_factory=dict)
    trainer: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.' (it names a folder)")
        return value

    @field_validator("rewards")
    @classmethod
    def _known_rewards(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [name for name in value if name not in REWARDS]
        if unknown:
            raise ValueError(f"unknown reward {unknown[0]!r}; allowed: {', '.join(sorted(REWARDS))}")
        return value

    @model_validator(mode="after")
    def _kind_rules(self) -> StageSettings:
        if self.kind == "grpo" and not self.rewards:
            raise ValueError("a grpo stage needs `rewards:` (name: weight)")
        if self.kind == "sft" and (self.rewards or self.filter is not None):
            raise ValueError("an sft stage takes neither `rewards` nor `filter`")
        for name in self.rewards:
            task = task_of(REWARDS[name])
            if task is not None and task not in self.tasks:
                raise ValueError(f"reward {name} scores {task} rows but the stage's tasks are {self.tasks}")
        managed = [k for k in self.trainer if k in MANAGED_TRAINER_FIELDS]
        if managed:
            raise ValueError(f"trainer.{managed[0]} is set by avr train ({MANAGED_TRAINER_FIELDS[managed[0]]})")
        return self


class TrainConfig(_Strict):
    name: str = "run"
    seed: int = 0
    model: ModelSettings
    inputs: InputSettings = Field(default_factory=InputSettings)
    data: list[DataSource] = Field(min_length=1)
    stages: list[StageSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_stage_names(self) -> TrainConfig:
        names = [s.name for s in self.stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"stage names must be unique; {repeated[0]!r} repeats")
        return self


# ---------------------------------------------------------------- loading
def _format_location(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[")):
            path += f".{part}" if path else str(part)
    return path


def parse_config(data: Any, source: str = "config", base_dir: Path | None = None,
                 check_trainer: bool = True) -> TrainConfig:
    """Validate a config mapping; ConfigError lists every problem with its field path."""
    if not isinstance(data, dict):
        raise ConfigError([("", f"expected a mapping at the top level, got {type(data).__name__}")], source)
    try:
        config = TrainConfig.model_validate(data)
    except ValidationError as exc:
        problems = [(_format_location(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        raise ConfigError(problems, source) from None
    if base_dir is not None:
        config = resolve_paths(config, base_dir)
    if check_trainer:
        problems = [p for i, stage in enumerate(config.stages) for p in check_trainer_fields(stage, i)]
        if problems:
            raise ConfigError(problems, source)
    return config


def load_config(path: str | Path, check_trainer: bool = True) -> TrainConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([("", "no such file")], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"cannot read ({exc})")], str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"not valid YAML ({str(exc).splitlines()[0]})")], str(path)) from None
    return parse_config(data, str(path), path.resolve().parent, check_trainer)


def resolve_paths(config: TrainConfig, base_dir: Path) -> TrainConfig:
    """Relative data and model paths are relative to the config file; stored absolute in the run."""
    def absolute(value: str | None) -> str | None:
        if value is None:
            return value
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    model_path = config.model.path if config.model.path == "tiny" else absolute(config.model.path)
    data = [d.model_copy(update={"path": absolute(d.path), "videos": absolute(d.videos)}) for d in config.data]
    return config.model_copy(update={"model": config.model.model_copy(update={"path": model_path}), "data": data})


def config_to_dict(config: TrainConfig) -> dict:
    return config.model_dump(mode="json")


# ---------------------------------------------------------------- trl fields
def trl_config_class(kind: str):
    from trl import GRPOConfig, SFTConfig

    return SFTConfig if kind == "sft" else GRPOConfig


_SUPPORTED_RE = re.compile(r"Supported values are:? ((?:`?'?[\w-]+'?`?(?:,|, and| and|\s)*)+)")


def allowed_values(help_text: str) -> list[str]:
    """Values trl's help text lists as supported ('... Supported values are 'a', 'b', and 'c'.')."""
    match = _SUPPORTED_RE.search(help_text or "")
    values = re.findall(r"'([\w-]+)'", match.group(1)) if match else []
    return values if len(values) > 1 else []


def check_trainer_fields(stage: StageSettings, index: int) -> list[tuple[str, str]]:
    """Names, types and listed values of a stage's trl fields; then trl's own __post_init__ checks."""
    from pydantic import TypeAdapter

    cls = trl_config_class(stage.kind)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    problems = []
    where = f"stages[{index}].trainer"
    for key, value in stage.trainer.items():
        if key not in fields:
            close = [n for n in fields if n.startswith(key[:4])][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append((f"{where}.{key}", f"not a {cls.__name__} field{hint}"))
            continue
        try:
            TypeAdapter(hints[key]).validate_python(value)
        except ValidationError as exc:
            problems.append((f"{where}.{key}", f"{exc.errors()[0]['msg']} (trl type: {hints[key]})"))
            continue
        choices = allowed_values(str(fields[key].metadata.get("help", "")))
        if choices and isinstance(value, str) and value not in choices:
            problems.append((f"{where}.{key}", f"must be one of {', '.join(choices)}, got {value!r}"))
    if problems:
        return problems
    try:
        build_trainer_args(stage, "/nonexistent-avr-check", device_checks=False)
    except (ValueError, TypeError) as exc:
        problems.append((where, str(exc).splitlines()[0]))
    return problems


def build_trainer_args(stage: StageSettings, output_dir: str | Path, device_checks: bool = True,
                       **managed: Any):
    """trl's config object for a stage, with the fields the run folder owns filled in.

    Without device checks, bf16/fp16 are switched off for construction only, so `--check` on a
    machine without a GPU still validates everything else."""
    cls = trl_config_class(stage.kind)
    kwargs = dict(stage.trainer)
    if not device_checks:
        kwargs.update(bf16=False, fp16=False)
    report_to = kwargs.get("report_to") or []
    report_to = [report_to] if isinstance(report_to, str) else list(report_to)
    kwargs["report_to"] = [r for r in dict.fromkeys([*report_to, "tensorboard"]) if r not in ("none", "all")]
    kwargs.update(output_dir=str(output_dir), run_name=stage.name, remove_unused_columns=False, **managed)
    if stage.kind == "sft":
        kwargs["dataset_kwargs"] = {"skip_prepare_dataset": True}
    else:
        names = list(stage.rewards)
        kwargs["reward_weights"] = [float(stage.rewards[n]) for n in names]
    return cls(**kwargs)


def path_warnings(config: TrainConfig) -> list[str]:
    """Model and data paths missing on this machine (a config may be checked on another machine)."""
    warnings = []
    if config.model.path != "tiny" and not Path(config.model.path).exists():
        warnings.append(f"model.path: {config.model.path} does not exist here")
    for i, source in enumerate(config.data):
        for name in ("path", "videos"):
            value = getattr(source, name)
            if value is not None and not Path(value).exists():
                warnings.append(f"data[{i}].{name}: {value} does not exist here")
    return warnings


def device_warnings(config: TrainConfig) -> list[str]:
    """Settings this machine cannot run (bf16 without a supporting GPU), said before a model loads."""
    import torch

    warnings = []
    bf16_ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    for i, stage in enumerate(config.stages):
        bf16 = stage.trainer.get("bf16", True)  # trl's configs default bf16 to on
        if bf16 and not bf16_ok:
            warnings.append(f"stages[{i}].trainer.bf16: on (trl's default) but this machine has no bf16 GPU; "
                            "set `bf16: false` to train here")
    return warnings
