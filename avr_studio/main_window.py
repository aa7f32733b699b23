"""The main window: builds the view-models, hands them to the widgets, owns menus, shortcuts,
drag and drop, recent files and the user-facing error dialogs."""

from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from avr_studio.item_switch import ItemSwitch
from avr_studio.models import Edits, Playhead, ScoreBoard, Selection, Session, disconnect_all
from avr_studio.models.navigation import Navigator
from avr_studio.playback.decode_worker import prefer_gui_thread
from avr_studio.playback.playback import PlaybackController
from avr_studio.run_tools import RunTools
from avr_studio.shortcuts import SHORTCUTS, help_text
from avr_studio.widgets.browser import Browser
from avr_studio.widgets.compare_panel import ComparePanel
from avr_studio.widgets.engine_tab import EngineTab
from avr_studio.widgets.player import Player
from avr_studio.widgets.reward_inspector import RewardInspector
from avr_studio.widgets.summary import Summary
from avr_studio.widgets.timeline import Timeline
from avr_studio.widgets.transport import Transport
from avr_studio.widgets.wcs_panel import WcsPanel
from engine.errors import UserError

RECENT_LIMIT = 10
STATUS_SECONDS = 6


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, audio_output=None) -> None:
        super().__init__()
        prefer_gui_thread()
        self.setWindowTitle("AV-Reasoner Studio")
        self.settings = settings or QSettings()
        self.session, self.selection, self.playhead = Session(), Selection(), Playhead()
        self.edits = Edits()
        self.scores = ScoreBoard(self.session, self.edits)
        self.playback = PlaybackController(self.playhead, audio_output, self)
        self.navigator = Navigator(self.session, self.selection, self.scores, self.playhead)
        self.last_error: str | None = None
        self._error_box: QMessageBox | None = None
        self._errors: list[str] = []
        self._build()
        self._build_actions()
        self._connect()
        self.run_tools = RunTools(self)  # Run panel, error totals, notes, spectrogram toggle, next failure
        self._add_reward_inspector()
        self.setAcceptDrops(True)
        self.resize(1600, 1000)

    # ---- layout --------------------------------------------------------------------------
    def _add_reward_inspector(self) -> None:
        """The Rewards dock beside the Run panel's docks, toggled from the View menu."""
        self.reward_inspector = RewardInspector(self.session, self.selection)
        dock = self.run_tools._dock("Rewards", self.reward_inspector)
        self.tabifyDockWidget(self.run_tools.docks["Notes"], dock)
        dock.hide()
        self.rewards_dock = dock
        action = dock.toggleViewAction()
        action.setText("Re&wards panel (training rewards of the prediction)")
        action.setShortcut("Ctrl+Shift+R")
        view = next(a.menu() for a in self.menuBar().actions() if a.menu() and a.text() == "&View")
        view.addAction(action)

    def _build(self) -> None:
        self.browser = Browser(self.session, self.selection, self.scores)
        self.player = Player(self.session, self.selection, self.playhead, self.scores)
        # right after the player opened the item's video and before the other views redraw: the
        # frame request goes out first and decodes while the timeline and panels are drawn
        self.selection.item_changed.connect(self._on_item)
        self.transport = Transport(self.playhead, self._transport_actions())
        self.player.info_bar.addWidget(self.transport.clock)
        self.timeline = Timeline(self.session, self.selection, self.playhead, self.scores)
        # what is not the frame or the tree is drawn once the new item's frame is painted
        prefetch = weakref.WeakMethod(self._prefetch_neighbours)  # no cycle keeps a closed window alive
        selection = self.selection
        self.item_switch = ItemSwitch(lambda: selection.item_index,
                                      [self.timeline.flush, lambda: (method := prefetch()) and method()], self)
        self.player.item_presented.connect(self.item_switch.frame_presented)
        self.wcs_panel = WcsPanel(self.session, self.selection, self.scores)
        self.compare_panel = ComparePanel(self.session, self.selection, self.scores)
        self.right_panel = QStackedWidget()
        self.right_panel.addWidget(self.wcs_panel)
        self.right_panel.addWidget(self.compare_panel)
        self.summary = Summary(self.session, self.scores, self.selection)

        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.player, 1)
        centre_layout.addWidget(self.transport)
        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.browser, centre, self.right_panel):
            self.top_split.addWidget(widget)
        self.top_split.setSizes([490, 650, 460])
        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(self.timeline)
        self.main_split.setSizes([680, 280])
        self.tabs = QTabWidget()
        self.tabs.addTab(self.main_split, "Inspect")
        self.tabs.addTab(self.summary, "Summary")
        opener = weakref.WeakMethod(self._open_benchmark)  # no cycle keeps a closed window alive
        self.engine = EngineTab(benchmark=lambda: (method := opener()) and method())
        self.tabs.addTab(self.engine, "Engine")
        self.setCentralWidget(self.tabs)
        self.audio_note = QLabel(self.playback.muted_note)
        self.audio_note.setObjectName("audioNote")
        self.mode_label = QLabel()
        self.mode_label.setObjectName("scoringMode")
        self.mode_label.setToolTip("Scoring menu: official = the benchmark's scripts; strict also reads <answer> tags")
        self.statusBar().addPermanentWidget(self.mode_label)
        self.statusBar().addPermanentWidget(self.audio_note)
        self._show_mode()
        if self.playback.muted_note:
            self.statusBar().showMessage(self.playback.muted_note, 8000)

    def _transport_actions(self) -> dict:
        return {
            "play": self.playhead.toggle_play,
            "step_back": lambda: self.playhead.step_frames(-1),
            "step_forward": lambda: self.playhead.step_frames(1),
            "hop_back": lambda: self.playhead.hop(-5.0),
            "hop_forward": lambda: self.playhead.hop(5.0),
            "prev_clue": lambda: self.jump_clue(-1),
            "next_clue": lambda: self.jump_clue(1),
            "prev_failure": lambda: self.run_tools.next_failure(-1),
            "next_failure": lambda: self.run_tools.next_failure(1),
            "loop_clue": lambda: self.toggle_loop("loop_clue"),
            "loop_query": lambda: self.toggle_loop("loop_query"),
            "slower": lambda: self.playhead.faster(-1),
            "faster": lambda: self.playhead.faster(1),
            "zoom_query": self.zoom_query,
            "zoom_all": self.timeline_whole,
            "undo_edit": self.undo_edit,
            "next_item": lambda: self.move_item(1),
            "prev_item": lambda: self.move_item(-1),
            "help": self.show_help,
        }

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot, keys in (
            ("Open &dataset...", self._ask_dataset, QKeySequence.StandardKey.Open),
            ("Open &videos folder...", self._ask_videos, None),
            ("Add predictions &folder...", self._ask_predictions_folder, None),
            ("Add predictions &JSONL...", self._ask_predictions_file, None),
        ):
            action = menu.addAction(text)
            action.triggered.connect(slot)
            if keys is not None:
                action.setShortcut(keys)
        self.recent_menu = menu.addMenu("&Recent")
        self._fill_recent()
        menu.addSeparator()
        menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        actions = self._transport_actions()
        self.shortcut_actions: dict[str, QAction] = {}
        for shortcut in SHORTCUTS:
            action = QAction(shortcut.description, self)
            action.setShortcuts([QKeySequence(k) for k in shortcut.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(actions[shortcut.action])
            self.addAction(action)
            self.shortcut_actions[shortcut.action] = action
        self._build_scoring_menu()
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.shortcut_actions["help"])

    def _build_scoring_menu(self) -> None:
        """Official = the benchmark's scripts to the letter; strict also reads <answer> tags and digits."""
        menu = self.menuBar().addMenu("&Scoring")
        group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for mode, text in (("official", "&Official (benchmark scripts)"), ("strict", "&Strict (reads <answer> tags)")):
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(mode == self.session.mode)
            action.triggered.connect(lambda _=False, m=mode: self.set_scoring_mode(m))
            group.addAction(action)
            self.mode_actions[mode] = action

    def set_scoring_mode(self, mode: str) -> None:
        self.session.set_mode(mode)
        self.mode_actions[mode].setChecked(True)
        self._show_mode()
        self.show_status(f"scoring mode: {mode}")

    def _show_mode(self) -> None:
        self.mode_label.setText(f"scoring: {self.session.mode}")

    def _connect(self) -> None:
        self.summary.item_clicked.connect(self._open_item_from_summary)
        self.selection.compare_mode_changed.connect(self._on_compare_mode)
        self.compare_panel.thinking.strict_requested.connect(lambda: self.set_scoring_mode("strict"))
        self.summary.thinking.strict_requested.connect(lambda: self.set_scoring_mode("strict"))
        self.selection.instance_changed.connect(self._on_instance)
        self.player.status.connect(self.show_status)
        # playing needs every cycle: drop what is left to prefetch
        self.playhead.playing_changed.connect(lambda on: self.player.worker.prefetch([]) if on else None)
        self.timeline.status.connect(self.show_status)
        self.playback.status.connect(self._on_audio_note)
        self.player.video_info.connect(self._on_video_info)
        self.navigator.loop_owner_changed.connect(self.transport.show_loop)
        self.engine.status.connect(self.show_status)
        self.engine.evaluated.connect(self._open_evaluation)

    # ---- opening data --------------------------------------------------------------------
    def open_dataset(self, path: str | Path) -> bool:
        if not self._guard(lambda: self.session.open_dataset(path)):
            return False
        if self.session.videos_dir is None and (Path(path).parent / "videos").is_dir():
            self.session.set_videos_dir(Path(path).parent / "videos")
        self._remember(Path(path))
        self.show_status(f"dataset: {path} ({len(self.session.items)} items)")
        if self.session.items and self.selection.item_index is None:
            self.selection.select_item(self.session.items[0].index)
        return True

    def open_videos(self, folder: str | Path) -> bool:
        folder = Path(folder)
        if not folder.is_dir():
            self.report_error(f"{folder}: not a folder")
            return False
        self.session.set_videos_dir(folder)
        self.show_status(f"videos: {folder}")
        return True

    def add_predictions(self, path: str | Path) -> bool:
        run = None

        def load() -> None:
            nonlocal run
            run = self.session.add_run(path)

        if not self._guard(load):
            return False
        self._remember(Path(path))
        extra = f"; {len(run.warnings)} warnings (first: {run.warnings[0]})" if run.warnings else ""
        self.show_status(f"run {run.name}: {', '.join(run.protocols)}{extra}")
        return True

    def _open_benchmark(self) -> tuple[Path, Path] | None:
        """The open dataset and its videos, for the Engine tab's checkpoint evaluation."""
        session = self.session
        if session.dataset_path is None:
            return None
        return session.dataset_path, session.videos_dir or session.dataset_path.parent / "videos"

    def _open_evaluation(self, results: Path, dataset: Path, videos: Path) -> None:
        """A checkpoint evaluated from the Engine tab: its benchmark (if none is open) and results as a run."""
        if self.session.dataset_path is None:
            self.open_videos(videos)
            self.open_dataset(dataset)
        if self.add_predictions(results):
            self.browser.run_box.setCurrentText(self.session.runs[-1].name)
            self.tabs.setCurrentIndex(0)

    def open_path(self, path: str | Path) -> bool:
        """Dropped or recent path: a dataset, a videos folder, or predictions (guessed by shape)."""
        path = Path(path)
        if path.is_dir():
            if any(path.glob("*.mp4")) or any(path.glob("*.mkv")):
                return self.open_videos(path)
            return self.add_predictions(path)
        if path.suffix == ".jsonl":
            return self.add_predictions(path)
        if path.suffix == ".json":
            return self.open_dataset(path)
        self.report_error(f"{path}: not a dataset (.json), predictions (.jsonl or folder) or videos folder")
        return False

    def _guard(self, load) -> bool:
        try:
            load()
        except UserError as exc:
            self.report_error(str(exc))
            return False
        return True

    def report_error(self, message: str) -> None:
        """A non-blocking dialog plus the status bar; the window stays usable. Errors arriving while
        the dialog is open are added to it, so none hides another."""
        self.last_error = message
        self.show_status(message)
        box = self._error_box
        if box is not None and box.isVisible():
            self._errors.append(message)
            box.setText(f"{len(self._errors)} problems:\n\n" + "\n\n".join(self._errors))
            return
        self._errors = [message]
        box = QMessageBox(QMessageBox.Icon.Warning, "AV-Reasoner Studio", message, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("errorDialog")
        box.destroyed.connect(self._forget_error_box)
        self._error_box = box
        box.open()

    def _forget_error_box(self, *_args) -> None:
        self._error_box = None

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, STATUS_SECONDS * 1000)

    def dialog_dir(self) -> str:
        """Where file dialogs start: the open dataset's folder, else the last opened path's."""
        if self.session.dataset_path is not None:
            return str(self.session.dataset_path.parent)
        recent = self.recent_paths()
        return str(Path(recent[0]).parent) if recent else ""

    def _ask_dataset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open dataset", self.dialog_dir(), "Benchmark JSON (*.json)")
        if path:
            self.open_dataset(path)

    def _ask_videos(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Videos folder", self.dialog_dir())
        if folder:
            self.open_videos(folder)

    def _ask_predictions_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Predictions folder (run or protocol folder)", self.dialog_dir())
        if folder:
            self.add_predictions(folder)

    def _ask_predictions_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Predictions JSONL", self.dialog_dir(), "JSON lines (*.jsonl *.txt)")
        if path:
            self.add_predictions(path)

    # ---- recent files --------------------------------------------------------------------
    def recent_paths(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember(self, path: Path) -> None:
        paths = [str(path.resolve())] + [p for p in self.recent_paths() if p != str(path.resolve())]
        self.settings.setValue("recent", paths[:RECENT_LIMIT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_paths():
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_paths()))

    # ---- drag and drop -------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        # datasets first, so predictions dropped together are scored against them
        for path in sorted(paths, key=lambda p: (p.suffix != ".json", str(p))):
            self.open_path(path)
        event.acceptProposedAction()

    # ---- glue between models -------------------------------------------------------------
    def _on_item(self, _index) -> None:
        """Open the item: its video (the frame request goes out first), the playhead at its start,
        and its boxes at once if that frame is already on screen; the rest waits for the frame."""
        self.statusBar().clearMessage()  # a message about the previous item must not linger
        self.item_switch.item_changed()
        self.timeline.schedule_item()  # before the playhead moves: its line moves with the tiers
        self.player.open_item()
        self.navigator.open_item()
        self.player.present_if_current()

    def _prefetch_neighbours(self) -> None:
        """Decode where the neighbouring rows open, in the background (once this item's frame is on
        screen, not competing with it): paging on is then a cache hit."""
        if self.playhead.playing:
            return
        order = self.browser.visible_order(around=self.selection.item_index)
        self.player.worker.prefetch(self.navigator.prefetch_targets(order))

    def item_settled(self, index: int) -> bool:
        """Everything for item `index` is drawn: nothing deferred is left (the benchmark's second figure)."""
        timeline = self.timeline
        return (self.selection.item_index == index and not self.item_switch.pending and not timeline.pending
                and timeline.shown_index == index and timeline.track.ready and timeline.spectrogram.ready
                and self.browser.current_index() == index)

    def compare_runs(self, a: str, b: str) -> None:
        """The compare view of runs A and B (names as shown, or an unambiguous part of one)."""
        run_a, run_b = self.session.find_run(a), self.session.find_run(b)
        if run_a.name == run_b.name:
            from avr_studio.models.session import RunNameError

            raise RunNameError(f"A and B are the same run ({run_a.name})")
        self.selection.select_run(run_a.name)
        self.selection.select_compare(run_b.name)
        self.selection.set_compare_mode(True)

    def _on_compare_mode(self, on: bool) -> None:
        self.right_panel.setCurrentWidget(self.compare_panel if on else self.wcs_panel)
        if on:
            self.compare_panel.refresh()

    def _open_item_from_summary(self, index: int) -> None:
        self.selection.select_item(index)
        self.tabs.setCurrentIndex(0)

    def _on_instance(self, ref) -> None:
        self.navigator.seek_instance(ref)

    def _on_video_info(self, info) -> None:
        self.playback.set_audio(info.path if info is not None and info.has_audio else None)
        if info is not None and not info.has_audio:
            self.show_status(f"{info.path.name}: no audio track (video plays silently)")

    def _on_audio_note(self, note: str) -> None:
        self.audio_note.setText(note)
        self.show_status(note)

    # ---- transport commands --------------------------------------------------------------
    def jump_clue(self, direction: int) -> None:
        if not self.navigator.jump_clue(direction):
            self.show_status("no further clue in that direction")

    def toggle_loop(self, owner: str) -> None:
        if not self.navigator.toggle_loop(owner):
            self.show_status("nothing to loop here")

    def query_loop_interval(self) -> tuple[float, float] | None:
        return self.navigator.query_loop_interval()

    def zoom_query(self) -> None:
        interval = self.query_loop_interval()
        if interval:
            self.timeline.zoom_to(*interval)

    def timeline_whole(self) -> None:
        self.timeline.show_whole()

    def undo_edit(self) -> None:
        if self.selection.run_name is None or self.selection.item_index is None:
            return
        if not self.edits.undo(self.selection.run_name, self.selection.item_index):
            self.show_status("nothing to undo on this item")

    def move_item(self, step: int) -> None:
        table = self.browser.table
        row = table.currentIndex().row() + step
        if 0 <= row < self.browser.proxy.rowCount():
            table.setCurrentIndex(self.browser.proxy.index(row, 0))

    def show_help(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        text = QPlainTextEdit(help_text())
        text.setReadOnly(True)
        text.setFont(QFont("monospace"))
        text.setMinimumSize(620, 420)
        QVBoxLayout(dialog).addWidget(text)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setObjectName("helpDialog")
        dialog.open()
        self.help_dialog = dialog

    # ---- teardown ------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if not self.run_tools.confirm_close():  # a model run is going and the user keeps the window
            event.ignore()
            return
        if not self.engine.confirm_close():  # a training run is going and the user keeps the window
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop threads and the audio stream; safe to call twice."""
        self.playhead.set_playing(False)
        self.item_switch.stop()
        self.run_tools.shutdown()
        self.engine.shutdown()
        self.reward_inspector.shutdown()
        self.playback.shutdown()
        self.player.shutdown()
        self.timeline.shutdown()
        disconnect_all(self.session, self.selection, self.playhead, self.edits, self.scores, self.navigator)
