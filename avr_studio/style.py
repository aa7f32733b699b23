"""Loads the studio's style sheet from resources/ (plain QSS, kept out of the code)."""

from __future__ import annotations

from engine.resources import resource_path

STYLE_PATH = resource_path("studio.qss")


def apply_style(app) -> None:
    app.setStyle("Fusion")
    if STYLE_PATH.is_file():
        app.setStyleSheet(STYLE_PATH.read_text(encoding="utf-8"))
