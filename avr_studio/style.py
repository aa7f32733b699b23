"""Loads the studio's style sheet from resources/ (plain QSS, kept out of the code)."""

from __future__ import annotations

from pathlib import Path

STYLE_PATH = Path(__file__).resolve().parent.parent / "resources" / "studio.qss"


def apply_style(app) -> None:
    app.setStyle("Fusion")
    if STYLE_PATH.is_file():
        app.setStyleSheet(STYLE_PATH.read_text(encoding="utf-8"))
