"""What the user is looking at: the item, the run whose predictions are shown, the instance picked."""

from __future__ import annotations

from dataclasses import dataclass

from avr_studio.models.signals import Signal


@dataclass(frozen=True)
class InstanceRef:
    """One row of the WCS breakdown: cluster, frame (position in the cluster's frames) and match."""

    cluster: int
    frame: int
    match: int | None = None


class Selection:
    def __init__(self) -> None:
        self.item_index: int | None = None
        self.run_name: str | None = None
        self.compare_name: str | None = None
        self.instance: InstanceRef | None = None
        self.item_changed = Signal()
        self.run_changed = Signal()
        self.instance_changed = Signal()

    def select_item(self, index: int | None) -> None:
        if index == self.item_index:
            return
        self.item_index = index
        self.instance = None
        self.item_changed.emit(index)
        self.instance_changed.emit(None)

    def select_run(self, name: str | None) -> None:
        if name == self.run_name:
            return
        self.run_name = name
        self.run_changed.emit(name)

    def select_compare(self, name: str | None) -> None:
        """The second run the browser's "runs disagree" filter compares against."""
        self.compare_name = name

    def select_instance(self, ref: InstanceRef | None) -> None:
        if ref == self.instance:
            return
        self.instance = ref
        self.instance_changed.emit(ref)
