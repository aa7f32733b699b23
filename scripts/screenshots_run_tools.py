"""README screenshots of the Run panel, the error totals and the spectrogram tier, on a small
synthetic benchmark (built once under --workdir). Run in a virtual X display:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_run_tools.py \\
        --workdir /tmp/avr-shots --out docs/screenshots
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SIZE = (1600, 1000)


def pump(app: QApplication, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            break
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/avr-shots"))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    from engine.synth import SynthConfig, generate_benchmark

    bench_dir = args.workdir / "bench"
    if not (bench_dir / "dataset.json").is_file():
        generate_benchmark(bench_dir, SynthConfig(videos=2, minutes=0.5, width=640, height=360, with_predictions=True))
    app = QApplication([])
    from avr_studio.main_window import MainWindow
    from avr_studio.playback.audio_out import NullAudioOutput
    from avr_studio.style import apply_style

    apply_style(app)
    settings = QSettings(str(args.workdir / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("runs/root", str(args.workdir / "runs"))
    window = MainWindow(settings=settings, audio_output=NullAudioOutput("Muted: screenshots"))
    window.resize(*SIZE)
    window.show()
    window.open_dataset(bench_dir / "dataset.json")
    window.open_videos(bench_dir / "videos")
    for run in sorted((bench_dir / "predictions").iterdir()):
        window.add_predictions(run)
    tools = window.run_tools
    args.out.mkdir(parents=True, exist_ok=True)
    event = next(i for i in window.session.items if i.category == "event")
    window.selection.select_item(event.index)
    pump(app, 3)

    # 0. the Run panel while a (tiny, random) model's text streams in for one item
    from engine.dev.tiny_model import build_tiny_model

    model_dir = args.workdir / "tiny-model"
    if not (model_dir / "config.json").is_file():
        build_tiny_model(model_dir)
    tools.docks["Run"].show()
    tools.docks["Run"].raise_()
    panel = tools.run_panel
    panel.backend.setCurrentText("transformers")
    panel.target.setText(str(model_dir))
    panel.reasoning.setCurrentText("thinking")
    panel.protocol.setCurrentText("long")
    panel.frames.setValue(8)
    panel.max_new_tokens.setValue(400)
    panel.run_item()
    pump(app, 240, until=lambda: len(panel.output.toPlainText()) > 700 or not panel.busy)
    window.grab().save(str(args.out / "run_panel_streaming.png"))
    panel.cancel()
    pump(app, 20, until=lambda: not panel.busy)
    panel.backend.setCurrentText("baseline")
    panel.reasoning.setCurrentText("direct")
    panel.frames.setValue(50)

    # 1. the Run panel during a background batch, rows arriving
    for stale in (args.workdir / "runs").glob("*"):
        if stale.is_file():
            stale.unlink()
    panel.protocol.setCurrentText("clue")
    panel.run_batch()
    pump(app, 120, until=lambda: panel.progress.value() >= 4)
    window.grab().save(str(args.out / "run_panel.png"))
    panel.cancel()
    pump(app, 10, until=lambda: not panel.busy)

    # 2. error totals of run A, with the spectrogram tier under the waveform
    tools.docks["Errors"].show()
    tools.docks["Errors"].raise_()
    tier = window.timeline.spectrogram
    tools.spectrogram_action.setChecked(True)
    pump(app, 20, until=lambda: tier.shown is not None)
    pump(app, 1)
    window.grab().save(str(args.out / "error_totals_spectrogram.png"))
    print(f"screenshots in {args.out}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
