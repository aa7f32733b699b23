"""Keyboard shortcuts: one table used by the actions and by the F1 help dialog."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    action: str
    keys: tuple[str, ...]
    description: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("play", ("Space",), "play / pause"),
    Shortcut("step_back", ("Left",), "one frame back"),
    Shortcut("step_forward", ("Right",), "one frame forward"),
    Shortcut("hop_back", ("Shift+Left", "J"), "hop 5 s back"),
    Shortcut("hop_forward", ("Shift+Right", "L"), "hop 5 s forward"),
    Shortcut("prev_clue", ("[",), "previous clue"),
    Shortcut("next_clue", ("]",), "next clue"),
    Shortcut("prev_failure", ("Shift+F",), "previous failure (missed, hallucinated, duplicate, mislocalised)"),
    Shortcut("next_failure", ("F",), "next failure, in this item then the next failing item"),
    Shortcut("loop_clue", ("C",), "loop the selected clue (toggle)"),
    Shortcut("loop_query", ("Q",), "loop the query interval (toggle)"),
    Shortcut("slower", ("-",), "slower (0.25x ... 4x)"),
    Shortcut("faster", ("+", "="), "faster"),
    Shortcut("zoom_query", ("Z",), "timeline: zoom to the query interval"),
    Shortcut("zoom_all", ("Shift+Z",), "timeline: whole video"),
    Shortcut("undo_edit", ("Ctrl+Z",), "what-if: undo the last edit (a whole drag) on this item"),
    Shortcut("next_item", ("Ctrl+Down",), "next item in the browser"),
    Shortcut("prev_item", ("Ctrl+Up",), "previous item in the browser"),
    Shortcut("help", ("F1",), "this list"),
)


def help_text() -> str:
    width = max(len(" / ".join(s.keys)) for s in SHORTCUTS)
    lines = [f"{' / '.join(s.keys):<{width}}   {s.description}" for s in SHORTCUTS]
    lines += ["", "Mouse: click or drag on the timeline to seek; double-click an interval to zoom to it;",
              "drag a predicted interval's edges (timeline) or a predicted box (frame) for a what-if score."]
    return "\n".join(lines)
