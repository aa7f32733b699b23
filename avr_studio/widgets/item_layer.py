"""Sets of pyqtgraph items redrawn together.

`ItemLayer` adds items one by one and removes them all on refresh. `ItemPool` is what a view redrawn
on every item switch uses instead: it keeps its items on the view and hands them out again on the
next redraw (new data, the same objects), hiding only what was not needed. Creating and destroying
text items, scatter plots and bars cost most of a timeline redraw; reusing them costs a `setData`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable


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


class ItemPool:
    """Items of a view reused across redraws. A redraw is `begin()`, then `take(kind, make)` for each
    item it draws (a spare item of that kind, shown again, or `make()` added to the view), then
    `end()`, which hides the spares left over. `_items`: the items in use, in the order taken."""

    def __init__(self, view) -> None:
        self._view = view
        self._items: list = []
        self._kinds: dict[int, str] = {}
        self._spare: dict[str, list] = defaultdict(list)

    def begin(self) -> None:
        used: dict[str, list] = defaultdict(list)
        for item in self._items:
            used[self._kinds[id(item)]].append(item)
        for kind, items in used.items():  # popped from the end: the shown ones first, in their last order
            self._spare[kind].extend(reversed(items))
        self._items = []

    def take(self, kind: str, make: Callable[[], object]):
        """A spare item of `kind` (shown; the caller sets its data) or a new one from `make()`."""
        spares = self._spare[kind]
        if spares:
            item = spares.pop()
            if not item.isVisible():
                item.show()
        else:
            item = make()
            self._kinds[id(item)] = kind
            self._view.addItem(item)
        self._items.append(item)
        return item

    def end(self) -> None:
        for spares in self._spare.values():
            for item in spares:
                if item.isVisible():
                    item.hide()

    def clear(self) -> None:
        """Hide everything (the items stay on the view for the next redraw)."""
        self.begin()
        self.end()


def settle_scene(graphics) -> None:
    """Make the coming paint pass draw this view's changes, once.

    pyqtgraph updates view matrices and text items' transforms lazily, at paint time; changing items
    during the paint makes Qt paint the view again right after. And a scene tells its view what
    changed through a queued call, which may run after the window's next paint pass: the view is then
    painted one pass (a screen refresh or more) later than the rest. Both are done here instead."""
    from PySide6.QtCore import QCoreApplication, QEvent

    scene = graphics.scene()
    scene.prepareForPaint()
    for _ in range(2):  # dirty items are processed, then the view told: both queued on the scene
        QCoreApplication.sendPostedEvents(scene, QEvent.Type.MetaCall.value)
