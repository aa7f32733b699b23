"""A tiny synthetic benchmark shared by the inference tests (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

#: The baseline was developed on seed 3; tests use seeds it was never tuned on.
TEST_SEED = 5


@dataclass(frozen=True)
class TinyBench:
    root: Path
    dataset: Path
    videos: Path
    oracle_direct: Path
    oracle_thinking: Path


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> TinyBench:
    from engine.synth import SynthConfig, generate_benchmark

    root = tmp_path_factory.mktemp("infer-bench")
    config = SynthConfig(videos=2, minutes=0.5, seed=TEST_SEED, width=320, height=180, with_predictions=True)
    result = generate_benchmark(root, config)
    predictions = Path(result.predictions_dir)
    return TinyBench(root, Path(result.dataset_path), Path(result.videos_dir),
                     predictions / "oracle-direct", predictions / "oracle-thinking")


@pytest.fixture(scope="session")
def tiny_items(tiny_bench: TinyBench):
    from engine.benchmark import load_dataset

    return load_dataset(tiny_bench.dataset)
