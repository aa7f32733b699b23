"""A set of pyqtgraph items redrawn together: added one by one, removed all at once on refresh."""

from __future__ import annotations


class ItemLayer:
    """Tracks the items a widget put on a view so a redraw can take them all off again."""

    def __init__(self, view) -> None:
        self._view = view
        self._items: list = []

    def add(self, item) -> None:
        self._view.addItem(item)
        self._items.append(item)

    def clear(self) -> None:
        for item in self._items:
            self._view.removeItem(item)
        self._items.clear()
