"""Shared test settings: locate the shared conformance fixture next to the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AVR_SHARED_DIR", REPO.parent / "shared"))
CONFORMANCE = SHARED / "conformance"


def conformance_fixtures() -> list[Path]:
    """Every fixture folder with an expected.json (the public one, plus any others dropped in)."""
    if not CONFORMANCE.is_dir():
        return []
    return sorted(p for p in CONFORMANCE.iterdir() if (p / "expected.json").is_file())


@pytest.fixture(scope="session")
def public_fixture() -> Path:
    path = CONFORMANCE / "cgav_public"
    if not path.is_dir():
        pytest.skip(f"conformance fixture not found at {path} (set AVR_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny random Qwen2.5-Omni thinker + processor (`avr dev tiny-model`), built once per session."""
    from engine.dev.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-omni") / "model")
