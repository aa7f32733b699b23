"""The demo benchmark: built once under the user's data dir, reused by `avr-studio --demo`
and the headless `avr demo-report`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from engine.synth import SynthConfig, generate_benchmark

#: Small enough to build in about two minutes on 2 cores, long enough to be worth scrubbing.
DEMO_CONFIG = SynthConfig(videos=4, minutes=2.0, seed=0, width=1280, height=720, fps=25.0, with_predictions=True)


@dataclass(frozen=True)
class DemoData:
    dataset: Path
    videos: Path
    runs: tuple[Path, ...]


def demo_dir() -> Path:
    """AVR_DEMO_DIR if set, else <user data dir>/avr-studio/demo."""
    if os.environ.get("AVR_DEMO_DIR"):
        return Path(os.environ["AVR_DEMO_DIR"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("avr-studio")) / "demo"


def demo_is_built(out: Path) -> bool:
    """dataset.json is written last by the generator: its presence means the demo is complete."""
    return (out / "dataset.json").is_file() and (out / "predictions").is_dir()


def demo_data(out: Path) -> DemoData:
    return DemoData(out / "dataset.json", out / "videos",
                    tuple(sorted(p for p in (out / "predictions").iterdir() if p.is_dir())))


def ensure_demo(out: Path | None = None, config: SynthConfig = DEMO_CONFIG, progress=None) -> DemoData:
    """Generate what is missing (resumable; a complete demo is reused as is) and return its paths."""
    out = out or demo_dir()
    generate_benchmark(out, config, progress=progress)
    return demo_data(out)
