"""What the user is looking at: the item, the run whose predictions are shown, the instance picked."""

from __future__ import annotations

from dataclasses import dataclass

from psygnal import Signal


@dataclass(frozen=True)
class InstanceRef:
    """One row of the WCS breakdown: cluster, frame (position in the cluster's frames) and match."""

    cluster: int
    frame: int
    match: int | None = None


class Selection:
    item_changed = Signal(object)
    run_changed = Signal(object)
    compare_changed = Signal(object)
    instance_changed = Signal(object)
    compare_mode_changed = Signal(bool)

    def __init__(self) -> None:
        self.item_index: int | None = None
        self.run_name: str | None = None
        self.compare_name: str | None = None
        self.instance: InstanceRef | None = None
        self.compare_mode = False

    def select_item(self, index: int | None) -> None:
        if index == self.item_index:
            return
        self.item_index = index
        self.instance = None
        self.item_changed.emit(index)
        self.instance_changed.emit(None)

    def select_run(self, name: str | None) -> None:
        """Run A. Picking run B's name swaps the two: A and B are never the same run."""
        if name == self.run_name:
            return
        if name is not None and name == self.compare_name:
            self.compare_name = self.run_name
            self.compare_changed.emit(self.compare_name)
        self.run_name = name
        self.run_changed.emit(name)

    def select_compare(self, name: str | None) -> None:
        """Run B (compare view, "they disagree" filters). Picking run A's name swaps the two."""
        if name == self.compare_name:
            return
        if name is not None and name == self.run_name:
            self.run_name = self.compare_name
            self.run_changed.emit(self.run_name)
        self.compare_name = name
        self.compare_changed.emit(name)

    def set_compare_mode(self, on: bool) -> None:
        """Compare view: both runs drawn side by side (needs run B)."""
        on = bool(on) and self.compare_name is not None
        if on != self.compare_mode:
            self.compare_mode = on
            self.compare_mode_changed.emit(on)

    def swap_runs(self) -> None:
        if self.compare_name is not None:
            self.select_run(self.compare_name)

    def select_instance(self, ref: InstanceRef | None) -> None:
        if ref == self.instance:
            return
        self.instance = ref
        self.instance_changed.emit(ref)
