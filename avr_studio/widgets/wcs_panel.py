"""The WCS panel: the engine's breakdown of one item (cluster -> frame -> instance pairs), the run's
totals with what-if edits applied, the failure reason and the raw model text (plain text only)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from avr_studio.models import ScoreBoard, Selection, Session
from avr_studio.models.selection import InstanceRef
from avr_studio.palette import KIND_COLOURS
from avr_studio.widgets.labels import plain_label
from avr_studio.widgets.tree_texts import tree_texts
from engine.parsing import answer_json_from_parsed, split_reasoning
from engine.results import ClueScore, ClusterScore, FrameScore, InstanceMatch

TREE_COLUMNS = ("instance", "IoU", "outcome", "LA", "CAP", "score")
COLUMN_TIPS = {
    "instance": "cluster -> frame (GT / predicted instances) -> matched GT / prediction pair",
    "IoU": "overlap of the matched pair (box IoU, or tIoU on the timeline)",
    "outcome": "matched (IoU >= 0.5), mislocalised (IoU < 0.5), missed, hallucinated, duplicate",
    "LA": "localisation accuracy: mean IoU of the matched pairs over max(#GT, #pred)",
    "CAP": "count accuracy penalty: how far the predicted count is from the GT count (1 = equal)",
    "score": "WCS term: LA x CAP (cluster and item rows: their mean)",
}
REF_ROLE = Qt.ItemDataRole.UserRole + 1


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


class WcsPanel(QWidget):
    def __init__(self, session: Session, selection: Selection, scores: ScoreBoard, parent=None) -> None:
        super().__init__(parent)
        self.session, self.selection, self.scores = session, selection, scores
        self.shown: ClueScore | None = None
        self._stale = True  # hidden (the compare view shows its own panel): redrawn when shown
        self._build()
        self.refresh()
        selection.item_changed.connect(lambda _i: self.refresh())
        selection.run_changed.connect(lambda _r: self.refresh())
        session.runs_changed.connect(self.refresh)
        scores.changed.connect(self._on_score_changed)

    def _build(self) -> None:
        # Eliding labels: no text (a raw parser error of a thinking answer can be one 2000 px word)
        # may widen the panel, and so the window's minimum size
        self.title = plain_label(wrap=True)
        self.item_score = plain_label()
        self.item_score.setObjectName("scoreHeadline")
        self.totals = plain_label()
        self.count_line = plain_label()
        self.failure = plain_label(wrap=True)
        self.failure.setObjectName("failureReason")
        self.reset_button = QPushButton("Reset to model answer")
        self.reset_button.clicked.connect(self._reset)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(TREE_COLUMNS))
        self.tree.setHeaderLabels(list(TREE_COLUMNS))
        self.tree.setAlternatingRowColors(True)
        self.tree.setIndentation(12)
        self.tree.currentItemChanged.connect(self._on_tree_current)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(36)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(TREE_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        for column, name in enumerate(TREE_COLUMNS):
            self.tree.headerItem().setToolTip(column, COLUMN_TIPS[name])
        self.reasoning = QPlainTextEdit()
        self.reasoning.setReadOnly(True)
        self.reasoning.setPlaceholderText("no <think> reasoning in this answer")
        self.answer = QPlainTextEdit()
        self.answer.setReadOnly(True)

        head = QHBoxLayout()
        head.addWidget(self.item_score, 1)
        head.addWidget(self.reset_button)
        texts = QWidget()
        lay = QVBoxLayout(texts)
        lay.setContentsMargins(0, 0, 0, 0)
        self.reasoning_section = QCollapsible("reasoning (not scored)")  # long <think> text folds away
        self.reasoning_section.addWidget(self.reasoning)
        lay.addWidget(self.reasoning_section)
        lay.addWidget(QLabel("answer (scored)"))
        lay.addWidget(self.answer, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(texts)
        split.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        for widget in (self.title, self.totals, self.count_line):
            layout.addWidget(widget)
        layout.addLayout(head)
        layout.addWidget(self.failure)
        layout.addWidget(split, 1)

    # ---- model -> view -------------------------------------------------------------------
    def refresh(self) -> None:
        """Show the selected item and run; while the panel is hidden, only remember to."""
        if not self.isVisible():
            self._stale = True
            return
        self._draw()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if self._stale:
            self._draw()
        super().showEvent(event)

    def _draw(self) -> None:
        self._stale = False
        item = self.session.item(self.selection.item_index)
        run = self.session.run(self.selection.run_name)
        self.shown = self.scores.clue_score(self.selection.run_name, self.selection.item_index)
        self.title.setText(f"#{item.index} [{item.category}] {item.question}" if item else "no item selected")
        self._show_totals()
        self._show_count(run, item)
        self._show_score(self.shown, run)
        self._fill_tree(self.shown)
        self._show_text(run, item)

    def _show_totals(self) -> None:
        report = self.scores.totals(self.selection.run_name)
        if report is None:
            self.totals.setText("")
            return
        edited = self.scores.edited_count(self.selection.run_name)
        note = f"  (what-if: {edited} item{'s' if edited != 1 else ''} edited)" if edited else ""
        self.totals.setText(f"run {self.selection.run_name}: WCS {report.wcs:.2f}   IFA {report.ifa:.3f}   N {report.n}"
                            f"   ({self.session.mode} scoring){note}")

    def _show_count(self, run, item) -> None:
        count = run.count_score(item.index) if run and item else None
        if count is None:
            self.count_line.setText("")
            return
        pred = "parse failure" if count.failed else f"{count.count:g}"
        reason = f" ({count.reason})" if count.reason else ""
        self.count_line.setText(f"count: predicted {pred}{reason}, GT {count.gt}, |error| {count.abs_error:g}")

    def _show_score(self, score: ClueScore | None, run) -> None:
        edited = self._edited()
        self.reset_button.setEnabled(edited)
        if score is None:
            self.item_score.setText(
                "no run loaded" if run is None
                else "no clue prediction for this item" if run.has_clues
                else f"run {run.name} has no clue predictions")
            self.failure.setText("")
            return
        suffix = "  (edited)" if edited else ""
        self.item_score.setText(f"item score {score.score:.4f}   ({100 * score.score:.2f} WCS){suffix}")
        text = f"instruction-following failure: {score.reason}" if score.failed else ""
        self.failure.setText(text)
        self.failure.setToolTip(text)

    def _edited(self) -> bool:
        if self.selection.run_name is None or self.selection.item_index is None:
            return False
        return self.scores.edits.has(self.selection.run_name, self.selection.item_index)

    def _fill_tree(self, score: ClueScore | None) -> None:
        """The rows are built detached and inserted in one go (one insertion for the view, not one
        per row, each re-measuring the columns)."""
        self.tree.blockSignals(True)
        self.tree.clear()
        clusters = []
        if score is not None:
            for c, cluster in enumerate(score.clusters):
                node = self._row(None, self._cluster_name(score, cluster), None, cluster.la, cluster.cap, cluster.score)
                for f, frame in enumerate(cluster.frames):
                    frame_node = self._row(node, self._frame_name(frame), InstanceRef(c, f), frame.la, frame.cap, frame.score)
                    for m, match in enumerate(frame.matches):
                        self._match_row(frame_node, match, InstanceRef(c, f, m))
                clusters.append(node)
        self.tree.addTopLevelItems(clusters)
        self.tree.expandAll()
        self.tree.blockSignals(False)

    @staticmethod
    def _cluster_name(score: ClueScore, cluster: ClusterScore) -> str:
        if score.category != "attribute":
            return "all clues"
        label = cluster.pred_label if cluster.pred_label is not None else "(none)"
        return f"c{cluster.gt_cluster + 1} -> '{label}'"

    @staticmethod
    def _frame_name(frame: FrameScore) -> str:
        counts = f"  {frame.n_gt} GT / {frame.n_pred} pred"
        if frame.frame < 0:
            return "timeline" + counts
        when = f" @ {frame.timestamp:.2f}s" if frame.timestamp is not None else " (no GT)"
        return f"Frame {frame.frame + 1}{when}{counts}"

    def _row(self, parent, name, ref, la, cap, score) -> QTreeWidgetItem:
        cells = [name, "", "", _f(la), _f(cap), _f(score)]
        node = QTreeWidgetItem(cells) if parent is None else QTreeWidgetItem(parent, cells)
        node.setData(0, REF_ROLE, ref)
        node.setToolTip(0, name)
        return node

    def _match_row(self, parent, match: InstanceMatch, ref: InstanceRef) -> None:
        gt = "" if match.gt is None else f"g{match.gt + 1}"
        pred = "" if match.pred is None else f"p{match.pred + 1}"
        node = QTreeWidgetItem(parent, [f"{gt or '-'} / {pred or '-'}", _f(match.iou), match.kind, "", "", ""])
        node.setData(0, REF_ROLE, ref)
        node.setForeground(2, QBrush(QColor(KIND_COLOURS.get(match.kind, "#000"))))

    def _show_text(self, run, item) -> None:
        text = run.pred_text("clue", item.index) if run and item else None
        if text is None and run and item:
            text = run.pred_text("long", item.index) or run.pred_text("ref", item.index)
        thinking, answer = split_reasoning(text) if text is not None else (None, "")
        if self._edited():
            edited = self.scores.edits.get(self.selection.run_name, self.selection.item_index)
            answer = ("what-if edit (scored):\n" + answer_json_from_parsed(edited, like=answer, pretty=True)
                      + "\n\nmodel answer:\n" + answer)
        self.reasoning.setPlainText(thinking or "")
        self.answer.setPlainText(answer)

    def _on_score_changed(self, run: str, index: int) -> None:
        if run == self.selection.run_name:
            if index == self.selection.item_index:
                self.refresh()
            else:
                self._show_totals()

    # ---- user -> model -------------------------------------------------------------------
    def _on_tree_current(self, current, _previous) -> None:
        ref = current.data(0, REF_ROLE) if current is not None else None
        if ref is not None:
            self.selection.select_instance(ref)

    def _reset(self) -> None:
        if self.selection.run_name is not None and self.selection.item_index is not None:
            self.scores.edits.reset(self.selection.run_name, self.selection.item_index)

    # ---- for tests ---------------------------------------------------------------------
    def tree_rows(self) -> list[list[str]]:
        """Every row of the tree, depth-first, as the texts shown."""
        if self._stale:
            self._draw()
        return tree_texts(self.tree)
