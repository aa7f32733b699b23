"""The Run panel and the inspection tools researchers asked for, as docks of the main window:
run a model (Run), error totals that filter the browser (Errors), the run's text with timestamp
links and the item's tags and note (Notes), the spectrogram toggle, and "next failure".

The window builds one `RunTools(window)`; everything here talks to the window's view-models and
widgets through their public methods, so the window itself only gains a few lines.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QDockWidget, QFileDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from avr_studio.models.annotations import Annotations
from avr_studio.models.error_totals import ALL, error_totals
from avr_studio.models.failures import failure_stops, has_failure, next_failing_item, next_failure
from avr_studio.widgets.error_totals import ErrorTotalsPanel
from avr_studio.widgets.item_notes import ItemNotes
from avr_studio.widgets.reasoning_view import ReasoningView
from avr_studio.widgets.run_panel import RunPanel
from engine.errors import UserError

RUNS_ROOT_KEY = "runs/root"
SPECTROGRAM_KEY = "view/spectrogram"
NO_TAG = "all items"
PROTOCOL_ORDER = ("clue", "long", "ref")


class RunTools(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        # a weak reference: the window owns these tools, never the other way round (no cycle keeps a
        # closed window's Python object alive)
        self._window = weakref.ref(window)
        self._annotations: dict[Path, Annotations | None] = {}
        self.run_panel = RunPanel(window.session, window.selection, self.runs_root, self.shown_items)
        self.errors = ErrorTotalsPanel()
        self.reasoning = ReasoningView(seek=window.playhead.seek)
        self.notes = ItemNotes()
        self.tag_filter = QComboBox()
        self.tag_filter.setToolTip("show only the items carrying this tag (in run A)")
        self.docks = {
            "Run": self._dock("Run", self.run_panel),
            "Errors": self._dock("Errors", self.errors),
            "Notes": self._dock("Notes", self._notes_widget()),
        }
        window.tabifyDockWidget(self.docks["Run"], self.docks["Errors"])
        window.tabifyDockWidget(self.docks["Errors"], self.docks["Notes"])
        self.docks["Run"].raise_()
        for dock in self.docks.values():  # opened from the View menu; the Inspect layout stays as it was
            dock.hide()
        self._refresh_totals_soon = QTimer(self)
        self._refresh_totals_soon.setSingleShot(True)
        self._refresh_totals_soon.setInterval(150)
        self._refresh_totals_soon.timeout.connect(self.refresh_totals)
        self._build_view_menu()
        self._connect()
        self.refresh_totals()

    @property
    def window(self):
        return self._window()

    # ---- layout ----------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _notes_widget(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.reasoning)
        bottom = QWidget()
        layout = QVBoxLayout(bottom)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.notes, 1)
        layout.addWidget(QLabel("Browser shows"))
        layout.addWidget(self.tag_filter)
        split.addWidget(bottom)
        return split

    def _build_view_menu(self) -> None:
        menu = self.window.menuBar().addMenu("&View")
        for (title, dock), keys in zip(self.docks.items(), ("Ctrl+R", "Ctrl+E", "Ctrl+N"), strict=True):
            action = dock.toggleViewAction()
            action.setText(f"&{title} panel")
            action.setShortcut(keys)
            menu.addAction(action)
        runs_folder = menu.addAction("Runs &folder for the Run panel...")
        runs_folder.triggered.connect(self._ask_runs_root)
        menu.addSeparator()
        self.spectrogram_action = QAction("&Spectrogram tier", self.window)
        self.spectrogram_action.setCheckable(True)
        self.spectrogram_action.setToolTip("mel spectrogram of the visible range under the waveform")
        self.spectrogram_action.toggled.connect(self._show_spectrogram)
        menu.addAction(self.spectrogram_action)
        self.spectrogram_action.setChecked(self.window.settings.value(SPECTROGRAM_KEY, False, type=bool))

    def _connect(self) -> None:
        w = self.window
        self.run_panel.run_ready.connect(self._on_run_ready)
        self.run_panel.compare_ready.connect(self._on_compare_ready)
        self.run_panel.status.connect(w.show_status)
        self.errors.filter_requested.connect(self._filter_by_count)
        self.notes.status.connect(w.show_status)
        self.tag_filter.activated.connect(self._filter_by_tag)
        w.browser.filter_changed.connect(self.run_panel.update_batch_label)
        w.selection.item_changed.connect(lambda _i: self.show_item())
        w.selection.run_changed.connect(lambda _r: self._on_run_changed())
        w.session.runs_changed.connect(self._on_run_changed)
        w.scores.changed.connect(lambda _r, _i: self._refresh_totals_soon.start())

    # ---- runs ------------------------------------------------------------------------------
    def runs_root(self) -> Path:
        """Where the Run panel writes: the setting, else `studio_runs` beside the dataset."""
        chosen = self.window.settings.value(RUNS_ROOT_KEY, "", type=str)
        if chosen:
            return Path(chosen)
        dataset = self.window.session.dataset_path
        return (dataset.parent if dataset else Path.cwd()) / "studio_runs"

    def _ask_runs_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Where the Run panel writes its runs", str(self.runs_root()))
        if folder:
            self.window.settings.setValue(RUNS_ROOT_KEY, folder)
            self.window.show_status(f"runs go to {folder}")

    def shown_items(self) -> list:
        session = self.window.session
        return [item for item in (session.item(i) for i in self.window.browser.visible_indices()) if item]

    def _on_run_ready(self, path: Path) -> None:
        if self.window.add_predictions(path):
            self.window.selection.select_run(self.window.session.runs[-1].name)

    def _on_compare_ready(self, thinking: Path, direct: Path) -> None:
        names = {run.path: run.name for run in self.window.session.runs}
        if thinking in names and direct in names:
            self.window.compare_runs(names[thinking], names[direct])

    # ---- shown item and run --------------------------------------------------------------------
    def _on_run_changed(self) -> None:
        self.show_item()
        self._fill_tags()
        self.refresh_totals()

    def show_item(self) -> None:
        w = self.window
        run, index = w.session.run(w.selection.run_name), w.selection.item_index
        self.reasoning.show_text(self._run_text(run, index))
        self.notes.show_item(self.annotations_of(run), index)

    @staticmethod
    def _run_text(run, index: int | None) -> str:
        if run is None or index is None:
            return ""
        texts = [(p, run.pred_text(p, index)) for p in PROTOCOL_ORDER if p in run.sets]
        texts = [(p, t) for p, t in texts if t is not None]
        if len(texts) == 1:
            return texts[0][1]
        return "\n\n".join(f"[{protocol}]\n{text}" for protocol, text in texts)

    def annotations_of(self, run) -> Annotations | None:
        """The run's tags and notes (loaded once); a corrupt file is reported and left alone."""
        if run is None:
            return None
        if run.path not in self._annotations:
            try:
                annotations = Annotations.for_run(run.path)
                annotations.changed.connect(lambda _i: self._fill_tags())
            except UserError as exc:
                self.window.report_error(str(exc))
                annotations = None
            self._annotations[run.path] = annotations
        return self._annotations[run.path]

    # ---- filters ---------------------------------------------------------------------------
    def _fill_tags(self) -> None:
        annotations = self.annotations_of(self.window.session.run(self.window.selection.run_name))
        current = self.tag_filter.currentData()
        self.tag_filter.clear()
        self.tag_filter.addItem(NO_TAG, None)
        for tag, count in annotations.tags() if annotations else []:
            self.tag_filter.addItem(f"tagged {tag} ({count})", tag)
        position = self.tag_filter.findData(current)
        self.tag_filter.setCurrentIndex(max(0, position))

    def _filter_by_tag(self, position: int) -> None:
        tag = self.tag_filter.itemData(position)
        annotations = self.annotations_of(self.window.session.run(self.window.selection.run_name))
        if tag is None or annotations is None:
            self.window.browser.show_only(None)
            return
        self.window.browser.show_only(annotations.indices_with_tag(tag), f"tag {tag}")

    def _filter_by_count(self, category: str, kind: str, indices) -> None:
        """A count (or an IoU bar) of the error totals: show its items."""
        where = "" if category == ALL else f" in {category}"
        self.window.browser.show_only(indices, f"{kind}{where}")
        self.window.tabs.setCurrentIndex(0)

    def refresh_totals(self) -> None:
        name = self.window.selection.run_name
        report = self.window.scores.totals(name)
        self.errors.show_totals(error_totals(name, report.per_item) if report is not None else None)

    def _show_spectrogram(self, on: bool) -> None:
        self.window.timeline.show_spectrogram(on)
        self.window.settings.setValue(SPECTROGRAM_KEY, on)

    # ---- next failure ----------------------------------------------------------------------
    def next_failure(self, direction: int) -> bool:
        """Select the next (or previous) failed instance: in this item, else in the next failing
        item of the browser. False (with a status message) when there is none."""
        w = self.window
        run, index = w.selection.run_name, w.selection.item_index
        item = w.session.item(index)
        if item is not None:
            stops = failure_stops(item, w.scores.clue_score(run, index))
            stop = next_failure(stops, w.selection.instance, w.playhead.time, direction)
            if stop is not None:
                self._go_to(stop)
                return True
        order = w.browser.visible_indices()
        failing = {i: has_failure(w.scores.clue_score(run, i)) for i in order}
        target = next_failing_item(order, index, failing, direction)
        if target is None:
            w.show_status("no further failure in the browser's items")
            return False
        w.selection.select_item(target)
        stops = failure_stops(w.session.item(target), w.scores.clue_score(run, target))
        if stops:
            self._go_to(stops[0] if direction > 0 else stops[-1])
        else:
            w.show_status(f"item {target}: the answer could not be read")
        return True

    def _go_to(self, stop) -> None:
        self.window.selection.select_instance(stop.ref)
        if stop.time is not None:
            self.window.playhead.seek(stop.time)
        self.window.show_status(f"{stop.kind} instance" + (f" at {stop.time:.2f} s" if stop.time is not None else ""))

    # ---- closing ---------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        return self.run_panel.confirm_close()

    def shutdown(self) -> None:
        self.notes.save_note()  # a note typed just before closing is kept
        self.run_panel.shutdown()
