"""The texts a QTreeWidget shows, row by row: what tests and screenshots compare against."""

from __future__ import annotations

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem


def tree_texts(tree: QTreeWidget) -> list[list[str]]:
    """Every row of the tree, depth-first, as the texts shown in each column."""
    rows: list[list[str]] = []

    def walk(node: QTreeWidgetItem) -> None:
        rows.append([node.text(c) for c in range(tree.columnCount())])
        for i in range(node.childCount()):
            walk(node.child(i))

    for i in range(tree.topLevelItemCount()):
        walk(tree.topLevelItem(i))
    return rows
