"""`avr-studio`: the desktop studio. `--demo` builds (once) and opens a synthetic benchmark;
`--screenshot PATH` renders the window to a PNG after loading and quits (docs, tests)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from engine.demo import DEMO_CONFIG, DemoData, demo_data, demo_dir, demo_is_built, ensure_demo
from engine.synth import SynthConfig

APP_NAME = "avr-studio"


def _window_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    return width, height


def _run_pair(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two run names as A,B, got {text!r}")
    return parts[0], parts[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="avr-studio", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="open a generated synthetic benchmark (built once, cached)")
    parser.add_argument("--demo-dir", type=Path, help="where the demo is built (default: user data dir)")
    parser.add_argument("--dataset", type=Path, help="benchmark JSON")
    parser.add_argument("--videos", type=Path, help="folder with the videos")
    parser.add_argument("--predictions", type=Path, action="append", default=[],
                        help="run folder, protocol folder or JSONL; repeat for several runs")
    parser.add_argument("--select", type=int, help="item index to select")
    parser.add_argument("--seek", type=float, help="seconds to seek to after selecting")
    parser.add_argument("--run", help="run to show (default: the first)")
    parser.add_argument("--compare", metavar="A,B", type=_run_pair,
                        help="open the compare view of runs A and B (names as the studio shows them, or a part)")
    parser.add_argument("--tab", choices=["inspect", "summary", "engine"], default="inspect")
    parser.add_argument("--train-run", type=Path, metavar="DIR", help="training run folder for the Engine tab")
    parser.add_argument("--mode", choices=["official", "strict"], default="official",
                        help="answer parsing: official (the benchmark's scripts) or strict")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the window once loaded, then quit")
    parser.add_argument("--size", default="1600x1000", type=_window_size, help="window size WxH")
    return parser.parse_args(argv)


def build_demo_with_dialog(out: Path, app, config: SynthConfig = DEMO_CONFIG) -> DemoData | None:
    """Build on a helper thread while a progress dialog keeps the GUI alive; None if cancelled/failed."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QProgressDialog

    state: dict = {"message": "starting", "fraction": 0.0, "done": False, "error": None, "data": None}

    def work() -> None:
        try:
            state["data"] = ensure_demo(out, config, lambda m, f: state.update(message=m, fraction=f))
        except Exception as exc:  # shown to the user below
            state["error"] = str(exc)
        finally:
            state["done"] = True

    dialog = QProgressDialog("Building the demo benchmark...", "Cancel", 0, 1000)
    dialog.setWindowTitle("AV-Reasoner Studio")
    dialog.setMinimumDuration(0)
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    timer = QTimer()

    def poll() -> None:
        dialog.setLabelText(f"Building the demo benchmark (once):\n{state['message']}")
        dialog.setValue(int(1000 * state["fraction"]))
        if state["done"] or dialog.wasCanceled():
            timer.stop()
            app.exit(0)

    timer.timeout.connect(poll)
    timer.start(100)
    app.exec()
    dialog.close()
    dialog.deleteLater()
    if not state["done"]:
        return None
    if state["error"]:
        print(f"avr-studio: demo build failed: {state['error']}", file=sys.stderr)
        return None
    return state["data"]


def load_into(window, dataset: Path | None, videos: Path | None, predictions: list[Path]) -> None:
    if dataset is not None:
        window.open_dataset(dataset)
    if videos is not None:
        window.open_videos(videos)
    for path in predictions:
        window.add_predictions(path)


def settle(app, window, seconds: float = 3.0) -> None:
    """Process events until decoding, waveform loading and layout are done (for screenshots)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        index = window.selection.item_index
        busy = (not window.player.worker.idle or window.timeline._loaders
                or (index is not None and not window.item_settled(index)))
        if not busy and window.player.presented is not None and time.monotonic() > deadline - seconds + 0.5:
            break
        time.sleep(0.01)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)


def _freeze_loaded_objects() -> None:
    """Move everything loaded so far (Qt wrappers, items, scores) out of the cyclic GC's reach, so
    a full collection on the GUI thread no longer walks them (measured: ~30 ms pauses before)."""
    import gc

    gc.collect()
    gc.freeze()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName(APP_NAME)
    QCoreApplication.setApplicationName("AV-Reasoner Studio")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from avr_studio.style import apply_style

    apply_style(app)
    dataset, videos, predictions = args.dataset, args.videos, list(args.predictions)
    if args.demo:
        out = args.demo_dir or demo_dir()
        data = demo_data(out) if demo_is_built(out) else build_demo_with_dialog(out, app)
        if data is None:
            return 1
        dataset, videos = dataset or data.dataset, videos or data.videos
        predictions = predictions or list(data.runs)

    from avr_studio.main_window import MainWindow

    window = MainWindow()
    if args.mode != window.session.mode:
        window.set_scoring_mode(args.mode)
    window.resize(*args.size)
    window.show()
    load_into(window, dataset, videos, predictions)
    if args.run:
        window.browser.run_box.setCurrentText(args.run)
    if args.compare is not None:
        from engine.errors import UserError

        try:
            window.compare_runs(*args.compare)
        except UserError as exc:
            print(f"avr-studio: error: {exc}", file=sys.stderr)
            _close(app, window)
            return 2
    if args.select is not None:
        window.selection.select_item(args.select)
    if args.seek is not None:
        window.playhead.seek(args.seek)
    if args.tab == "summary":
        window.tabs.setCurrentWidget(window.summary)
    if args.train_run is not None:
        window.engine.open_run(args.train_run)
    if args.tab == "engine":
        window.tabs.setCurrentWidget(window.engine)
    if args.screenshot is not None:
        settle(app, window)
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.screenshot))
        _close(app, window)
        print(f"screenshot: {args.screenshot}" if ok else f"could not write {args.screenshot}")
        return 0 if ok else 1
    _freeze_loaded_objects()
    code = app.exec()
    window.deleteLater()
    app.processEvents()
    return code


def _close(app, window) -> None:
    window.close()
    window.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    sys.exit(main())
