"""Screenshots of the Engine tab for docs/engine-tab.md (run under Xvfb, see the doc).

    python scripts/engine_tab_screenshots.py RUN_DIR [OVERLAY_RUN_DIR] --out docs/screenshots

Writes engine-tab-after.png (RUN_DIR finished, OVERLAY_RUN_DIR's curves dashed, completions shown)
and engine-tab-config-check.png (a config with a wrong field checked by `avr train --check`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("overlay", type=Path, nargs="?")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from avr_studio.main_window import MainWindow
    from avr_studio.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_style(app)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    tab = window.engine
    window.tabs.setCurrentWidget(tab)
    tab.open_run(args.run)
    if args.overlay:
        tab.add_overlay(args.overlay)
    tab.details.setCurrentIndex(2)  # completions at the latest step
    QTest.qWait(1500)
    args.out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out / "engine-tab-after.png"))

    text = tab.editor.toPlainText().replace("learning_rate: 0.0001", "learning_rate: fast", 1)
    tab.editor.setPlainText(text.replace("loss_type: grpo", "loss_typ: grpo", 1))
    tab.check_config()
    deadline = time.monotonic() + 180
    while tab.check_job.running and time.monotonic() < deadline:
        QTest.qWait(100)
    QTest.qWait(300)
    tab.check_list.setCurrentRow(0)
    tab._goto_message(tab.check_list.item(0))
    QTest.qWait(300)
    window.grab().save(str(args.out / "engine-tab-config-check.png"))
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
