"""A tiny synchronous signal: view-models stay pure Python (no Qt), testable without a window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """Callbacks run in connection order on `emit`; a callback connected twice runs once."""

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            slot(*args)

    def disconnect_all(self) -> None:
        self._slots.clear()

    def __len__(self) -> int:
        return len(self._slots)


def disconnect_all(*models: object) -> None:
    """Drop every subscriber of the models' signals: a closed window must not stay reachable
    through the models' callbacks."""
    for model in models:
        for value in vars(model).values():
            if isinstance(value, Signal):
                value.disconnect_all()
