"""The installed transformers and trl match the pins in pyproject.toml (the worker and the trainer
subclasses rely on their internals; a different minor version must be a deliberate change)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _pins() -> dict[str, str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = [r for group in project["optional-dependencies"].values() for r in group]
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9.]+)\.\*", requirement.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.mark.parametrize("package", ["transformers", "trl"])
def test_installed_version_matches_the_pin(package: str) -> None:
    pins = _pins()
    assert package in pins, f"pyproject.toml must pin {package} to a minor version (==X.Y.*)"
    installed = version(package)
    assert installed.split(".")[:2] == pins[package].split("."), (
        f"{package} {installed} is installed but pyproject.toml pins {pins[package]}.*")
