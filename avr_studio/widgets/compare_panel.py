"""The compare view's right panel: one tree with runs A and B side by side per cluster, frame and
GT instance (IoU, outcome, score), both items' WCS and their difference, and both answers with
their reasoning next to each other."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from avr_studio.models import ScoreBoard, Selection, Session
from avr_studio.models.compare_rows import CompareNode, Side, compare_tree
from avr_studio.palette import KIND_COLOURS
from avr_studio.widgets.labels import plain_label
from avr_studio.widgets.thinking_note import ThinkingNote
from avr_studio.widgets.tree_texts import tree_texts
from engine.parsing import split_reasoning

#: "A"/"B": the IoU on instance rows, the score (LA x CAP, or the mean) on frame and cluster rows.
COMPARE_COLUMNS = ("instance", "A", "A outcome", "B", "B outcome")
SHORT_KIND = {"matched": "match", "mislocalised": "misloc.", "missed": "miss", "hallucinated": "halluc.",
              "duplicate": "dup."}
DIFFERS_BACKGROUND = QColor(240, 228, 66, 70)  # rows where A's and B's outcomes differ


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


class ComparePanel(QWidget):
    def __init__(self, session: Session, selection: Selection, scores: ScoreBoard, parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.scores = session, selection, scores
        self.nodes: list[CompareNode] = []
        self._build()
        selection.item_changed.connect(lambda _i: self.refresh())
        selection.run_changed.connect(lambda _r: self.refresh())
        selection.compare_changed.connect(lambda _r: self.refresh())
        selection.compare_mode_changed.connect(lambda _on: self.refresh())
        session.runs_changed.connect(self.refresh)
        scores.changed.connect(lambda _r, _i: self.refresh())

    def _build(self) -> None:
        self.title = plain_label(wrap=True)
        self.item_scores = plain_label()
        self.item_scores.setObjectName("scoreHeadline")
        self.count_line = plain_label()
        self.failures = plain_label(wrap=True)
        self.failures.setObjectName("failureReason")
        self.thinking = ThinkingNote(self.session)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COMPARE_COLUMNS))
        self.tree.setHeaderLabels(list(COMPARE_COLUMNS))
        self.tree.setAlternatingRowColors(True)
        self.tree.setIndentation(10)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(30)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COMPARE_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.headerItem().setToolTip(0, "cluster -> frame -> GT instance, then predictions that matched no GT")
        for column, name in enumerate(COMPARE_COLUMNS[1:], start=1):
            what = "outcome and matched prediction" if "outcome" in name else "IoU (instance rows) or score (frame, cluster)"
            self.tree.headerItem().setToolTip(column, f"run {name[0]}: {what}; highlighted rows: A and B differ")
        self.texts: dict[str, tuple[QPlainTextEdit, QPlainTextEdit, QCollapsible]] = {}
        texts = QWidget()
        grid = QGridLayout(texts)
        grid.setContentsMargins(0, 0, 0, 0)
        for column, tag in enumerate(("A", "B")):
            reasoning, answer = QPlainTextEdit(), QPlainTextEdit()
            for edit in (reasoning, answer):
                edit.setReadOnly(True)
            reasoning.setPlaceholderText("no <think> reasoning")
            section = QCollapsible(f"{tag} reasoning")
            section.setToolTip(f"run {tag}'s <think> text: shown, not scored")
            section.addWidget(reasoning)
            grid.addWidget(section, 0, column)
            grid.addWidget(QLabel(f"{tag} answer (scored)"), 1, column)
            for edit in (reasoning, answer):
                edit.setMinimumWidth(60)
            grid.addWidget(answer, 2, column)
            self.texts[tag] = (reasoning, answer, section)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(texts)
        split.setSizes([320, 220])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        for widget in (self.title, self.item_scores, self.count_line, self.thinking, self.failures):
            layout.addWidget(widget)
        layout.addWidget(split, 1)

    # ---- model -> view -------------------------------------------------------------------
    def refresh(self) -> None:
        if not self.selection.compare_mode:
            return
        item = self.session.item(self.selection.item_index)
        names = (self.selection.run_name, self.selection.compare_name)
        a, b = (self.scores.clue_score(name, self.selection.item_index) for name in names)
        self.title.setText(f"#{item.index} [{item.category}] {item.question}" if item else "no item selected")
        self.item_scores.setText(self._wcs_line(a, b))
        self.count_line.setText(self._count_line(item))
        failures = [f"{tag}: {s.reason}" for tag, s in (("A", a), ("B", b)) if s is not None and s.failed]
        self.failures.setText("instruction-following failure  " + "   ".join(failures) if failures else "")
        self.failures.setToolTip("\n".join(failures))
        self.thinking.show_for(list(names))
        self.nodes = compare_tree(a, b) if (a or b) else []
        self._fill_tree()
        for tag, name in zip(("A", "B"), names, strict=True):
            self._show_text(tag, name, item)

    @staticmethod
    def _wcs_line(a, b) -> str:
        def pct(s) -> str:
            return "-" if s is None else f"{100 * s.score:.2f}"

        diff = f"   B - A {100 * (b.score - a.score):+.2f}" if a is not None and b is not None else ""
        return f"item WCS  A {pct(a)}   B {pct(b)}{diff}"

    def _count_line(self, item) -> str:
        if item is None:
            return ""
        parts = []
        for tag, name in (("A", self.selection.run_name), ("B", self.selection.compare_name)):
            run = self.session.run(name)
            count = run.count_score(item.index) if run else None
            if count is not None:
                parts.append(f"{tag} {'fail' if count.failed else f'{count.count:g}'}")
        return f"count: {', '.join(parts)}   GT {item.answer}" if parts else ""

    def _fill_tree(self) -> None:
        """Rows built detached, inserted in one go (one insertion for the view, not one per row)."""
        self.tree.clear()
        self.tree.addTopLevelItems([self._add(None, node) for node in self.nodes])
        self.tree.expandAll()

    def _add(self, parent, node: CompareNode) -> QTreeWidgetItem:
        cells = [node.name, *self._cells(node.a), *self._cells(node.b)]
        row = QTreeWidgetItem(cells) if parent is None else QTreeWidgetItem(parent, cells)
        row.setToolTip(0, node.name)
        for column, side in ((2, node.a), (4, node.b)):
            if side.kind:
                row.setForeground(column, QBrush(QColor(KIND_COLOURS.get(side.kind, "#000"))))
                row.setToolTip(column, side.kind)
        if node.differs:
            if not node.children:
                for column in range(len(COMPARE_COLUMNS)):
                    row.setBackground(column, QBrush(DIFFERS_BACKGROUND))
            font = QFont(row.font(0))
            font.setBold(True)
            row.setFont(0, font)
        for child in node.children:
            self._add(row, child)
        return row

    @staticmethod
    def _cells(side: Side) -> list[str]:
        kind = SHORT_KIND.get(side.kind, side.kind or "")
        if side.pred is not None and kind:
            kind = f"p{side.pred + 1} {kind}"
        return [_f(side.iou if side.kind is not None else side.score), kind]

    def _show_text(self, tag: str, run_name: str | None, item) -> None:
        run = self.session.run(run_name)
        text = run.pred_text("clue", item.index) if run and item else None
        if text is None and run and item:
            text = run.pred_text("long", item.index) or run.pred_text("ref", item.index)
        thinking, answer = split_reasoning(text) if text is not None else (None, "")
        reasoning_edit, answer_edit, _section = self.texts[tag]
        reasoning_edit.setPlainText(thinking or "")
        answer_edit.setPlainText(answer)

    # ---- for tests -----------------------------------------------------------------------
    def tree_rows(self) -> list[list[str]]:
        return tree_texts(self.tree)
