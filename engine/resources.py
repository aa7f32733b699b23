"""Where the shipped resources (prompts, stage configs, style sheet) live.

A checkout keeps them in `resources/` beside the packages; an installed package ships the same
folder as the package `avr_resources`. The checkout wins, so a developer's edits show at once.
"""

from __future__ import annotations

from importlib import resources as _importlib_resources
from pathlib import Path

_CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "resources"


def resources_dir() -> Path:
    """The folder holding `prompts/`, `stages/` and `studio.qss`."""
    if _CHECKOUT_DIR.is_dir():
        return _CHECKOUT_DIR
    return Path(str(_importlib_resources.files("avr_resources")))


def resource_path(*parts: str) -> Path:
    """A path inside the resources folder (it may not exist: callers say so to the user)."""
    return resources_dir().joinpath(*parts)
