"""The demo benchmark: built once under the user's data dir, reused by `avr-studio --demo`
and the headless `avr demo-report`."""

from __future__ import annotations

import os
from pathlib import Path

from engine.synth import SynthConfig, SynthResult, generate_benchmark

#: Small enough to build in about a minute on 2 cores, long enough to be worth scrubbing.
DEMO_CONFIG = SynthConfig(videos=4, minutes=2.0, seed=7, width=1280, height=720, fps=25.0, with_predictions=True)


def demo_dir() -> Path:
    """AVR_DEMO_DIR if set, else <user data dir>/avr-studio/demo."""
    if os.environ.get("AVR_DEMO_DIR"):
        return Path(os.environ["AVR_DEMO_DIR"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("avr-studio")) / "demo"


def ensure_demo(out: Path | None = None, config: SynthConfig = DEMO_CONFIG, progress=None) -> SynthResult:
    """Generate the demo where it is missing; an existing complete one is reused as is (resumable)."""
    return generate_benchmark(out or demo_dir(), config, progress=progress)
