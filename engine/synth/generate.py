"""Orchestration: plan every video, render what is missing, write items and predictions.

Resumable: a manifest records, per video, a hash of everything that determines
its pixels and samples; a video whose file is there with the recorded hash and
size is not rendered again. Each video, the manifest, the dataset and every
prediction file are written atomically, so an interrupted run loses at most the
video it was rendering. `dataset.json` is written last: its presence means the
benchmark is complete.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.benchmark import Item, items_from_json
from engine.io import write_json_atomic
from engine.synth.oracle import write_predictions
from engine.synth.questions import plan_to_item
from engine.synth.render import keyframe_interval, render_video
from engine.synth.scene import Scene
from engine.synth.timeline import Plan, build_scene

GENERATOR_VERSION = 1
MANIFEST_NAME = "synth_manifest.json"
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class SynthConfig:
    """What to generate; equal configs give byte-identical dataset and prediction files."""

    videos: int = 4
    minutes: float = 2.0
    seed: int = 0
    width: int = 1280
    height: int = 720
    fps: float = 25.0
    audio_rate: int = 16000
    with_predictions: bool = False

    def validate(self) -> None:
        """Raise ValueError with a message a user can act on."""
        if self.videos < 1:
            raise ValueError(f"--videos must be at least 1, got {self.videos}")
        if not 0.1 <= self.minutes <= 60:
            raise ValueError(f"--minutes must be between 0.1 and 60, got {self.minutes}")
        if self.width < 128 or self.height < 72 or self.width % 2 or self.height % 2:
            raise ValueError(f"--size must be even and at least 128x72, got {self.width}x{self.height}")
        if not 1 <= self.fps <= 120:
            raise ValueError(f"--fps must be between 1 and 120, got {self.fps}")
        if self.audio_rate < 8000:
            raise ValueError(f"audio rate must be at least 8000 Hz, got {self.audio_rate}")


@dataclass(frozen=True)
class SynthResult:
    dataset_path: Path
    videos_dir: Path
    predictions_dir: Path | None
    items: list[Item]
    rendered: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()


def plan_benchmark(config: SynthConfig) -> list[tuple[Scene, list[Plan]]]:
    """Every video's scene and questions, without rendering anything (cheap, deterministic)."""
    seconds = config.minutes * 60.0
    return [
        build_scene(i, config.seed, config.width, config.height, config.fps, config.audio_rate, seconds)
        for i in range(config.videos)
    ]


def benchmark_items(planned: list[tuple[Scene, list[Plan]]]) -> list[dict]:
    """Item dicts numbered 0.. across videos, in video then role order."""
    items: list[dict] = []
    for scene, plans in planned:
        items += [plan_to_item(scene, plan, len(items) + k) for k, plan in enumerate(plans)]
    return items


def scene_hash(scene: Scene) -> str:
    """Everything that decides a video's bytes: the scene, the encoder settings and this generator's version."""
    payload = {"scene": scene.to_json(), "gop": keyframe_interval(scene.fps), "version": GENERATOR_VERSION}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _load_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"videos": {}}
    return data if isinstance(data, dict) and isinstance(data.get("videos"), dict) else {"videos": {}}


def _is_done(video: Path, entry: object, digest: str) -> bool:
    if not isinstance(entry, dict) or entry.get("hash") != digest or not video.is_file():
        return False
    return video.stat().st_size == entry.get("bytes")


def _report(progress: Progress | None, message: str, fraction: float) -> None:
    if progress is not None:
        progress(message, min(1.0, max(0.0, fraction)))


def remove_leftovers(out: Path, planned: list[tuple[Scene, list[Plan]]], manifest: dict) -> None:
    """What an interrupted or earlier, larger run left: our temp files (a video's `.part`, an atomic
    write's `.tmp`) and videos this plan no longer has (only those the manifest says we wrote)."""
    for pattern in ("videos/.*.part", ".*.tmp", "videos/.*.tmp", "predictions/*/*/.*.tmp"):
        for leftover in out.glob(pattern):
            leftover.unlink(missing_ok=True)
    names = {f"{scene.name}.mp4" for scene, _ in planned}
    stale = [n for n in manifest["videos"] if n not in names]
    for name in stale:
        (out / "videos" / Path(name).name).unlink(missing_ok=True)
        del manifest["videos"][name]
    if stale:
        write_json_atomic(out / MANIFEST_NAME, manifest)


def render_missing(
    planned: list[tuple[Scene, list[Plan]]], out: Path, config: SynthConfig, progress: Progress | None
) -> tuple[list[str], list[str]]:
    """Render each video not already complete under out/videos; returns (rendered, skipped) names."""
    manifest_path = out / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    remove_leftovers(out, planned, manifest)
    manifest["generator"], manifest["config"] = GENERATOR_VERSION, asdict(config)
    rendered, skipped = [], []
    for k, (scene, _) in enumerate(planned):
        name, digest = f"{scene.name}.mp4", scene_hash(scene)
        path = out / "videos" / name
        base, share = k / len(planned), 1 / len(planned)
        if _is_done(path, manifest["videos"].get(name), digest):
            skipped.append(name)
            _report(progress, f"{name} already complete ({k + 1}/{len(planned)})", base + share)
            continue
        label = f"rendering {name} ({k + 1}/{len(planned)})"
        render_video(
            scene,
            path,
            lambda f, label=label, base=base, share=share: _report(progress, label, base + f * share),
        )
        manifest["videos"][name] = {"hash": digest, "bytes": path.stat().st_size}
        write_json_atomic(manifest_path, manifest)
        rendered.append(name)
    return rendered, skipped


def generate_benchmark(out: Path, config: SynthConfig, progress: Progress | None = None) -> SynthResult:
    """Write OUT/videos/vidNNN.mp4, OUT/dataset.json and (optionally) OUT/predictions/<run>/<protocol>/."""
    config.validate()
    out = Path(out)
    _report(progress, "planning scenes", 0.0)
    planned = plan_benchmark(config)
    raw_items = benchmark_items(planned)
    rendered, skipped = render_missing(planned, out, config, progress)
    predictions = None
    if config.with_predictions:
        _report(progress, "writing oracle predictions", 1.0)
        predictions = out / "predictions"
        write_predictions(predictions, raw_items, config.seed)
    dataset = out / "dataset.json"
    write_json_atomic(dataset, raw_items)
    _report(progress, "done", 1.0)
    return SynthResult(
        dataset_path=dataset,
        videos_dir=out / "videos",
        predictions_dir=predictions,
        items=items_from_json(raw_items),
        rendered=tuple(rendered),
        skipped=tuple(skipped),
    )
