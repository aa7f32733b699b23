"""Prompt template sets (resources/prompts/<set>/) rendered into a ModelRequest's user turn.

Templates are plain text with `${name}` placeholders (string.Template: JSON braces need no
escaping), so users edit a copy and pass `--prompts DIR`. The set's hash covers every file,
and each result row carries it, so results made with other wording are never mixed.
The layout of the turn (which frames, which times, which audio) comes from inputs.py's
`MediaPlan`; this module only decides the words around them.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.backends.base import ModelRequest
from engine.errors import UserError
from engine.resources import resource_path

if TYPE_CHECKING:
    from engine.backends.inputs import MediaPlan
    from engine.benchmark import Item

SHIPPED_SETS = ("official", "default")
REASONING_STYLES = ("direct", "thinking")
_LAYOUT_FILES = ("system.txt", "video_intro.txt", "frame_caption.txt", "clue_frames_intro.txt",
                 "clue_frame_caption.txt", "audio_caption.txt")
_QUESTION_FILES = tuple(f"{p}/{r}.txt" for p in ("long", "ref") for r in REASONING_STYLES) + tuple(
    f"clue/{c}.{r}.txt" for c in ("event", "object", "attribute") for r in REASONING_STYLES)
REQUIRED_FILES = _LAYOUT_FILES + _QUESTION_FILES


class PromptError(UserError):
    """A prompt set that cannot be used (missing folder or file, unknown placeholder)."""


@dataclass(frozen=True)
class PromptSet:
    """The templates of one set, by path relative to its folder; `hash` identifies the wording."""

    name: str
    folder: Path
    templates: Mapping[str, str]
    hash: str

    def template(self, relative: str) -> string.Template:
        return string.Template(self.templates[relative])

    def question_file(self, protocol: str, category: str, reasoning: str) -> str:
        """clue/<category>.<reasoning>.txt; long|ref/<category>.<reasoning>.txt else <reasoning>.txt."""
        if protocol == "clue":
            return f"clue/{category}.{reasoning}.txt"
        specific = f"{protocol}/{category}.{reasoning}.txt"
        return specific if specific in self.templates else f"{protocol}/{reasoning}.txt"


def load_prompt_set(spec: str | Path) -> PromptSet:
    """`official`, `default`, or a folder holding a full set (copy a shipped one to start)."""
    name = str(spec)
    folder = resource_path("prompts", name) if name in SHIPPED_SETS else Path(spec).expanduser()
    if not folder.is_dir():
        raise PromptError(f"prompt set {name!r}: no such folder (use {' or '.join(SHIPPED_SETS)}, or a folder)")
    templates = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                 for p in sorted(folder.rglob("*.txt"))}
    missing = [f for f in REQUIRED_FILES if f not in templates]
    if missing:
        raise PromptError(f"prompt set {folder}: missing {', '.join(missing)} (copy a set from {resource_path('prompts')})")
    set_name = name if name in SHIPPED_SETS else folder.resolve().name
    return PromptSet(set_name, folder, templates, prompt_hash(templates))


def prompt_hash(templates: Mapping[str, str]) -> str:
    """12 hex digits of SHA-256 over every (path, text) of the set, in path order."""
    digest = hashlib.sha256()
    for relative in sorted(templates):
        digest.update(relative.encode() + b"\0" + templates[relative].encode("utf-8") + b"\0")
    return digest.hexdigest()[:12]


def format_seconds(value: float) -> str:
    """Times as the benchmark's scripts print them: Python's str of the value rounded to 2 decimals."""
    return str(round(float(value), 2) + 0.0)  # + 0.0: never print -0.0


def render_request(prompts: PromptSet, item: Item, protocol: str, reasoning: str, plan: MediaPlan,
                   max_new_tokens: int = 1024) -> ModelRequest:
    """The user turn for one item: intro, frames (captioned images or one video), audio, question."""
    if reasoning not in REASONING_STYLES:
        raise PromptError(f"unknown reasoning style {reasoning!r} (use direct or thinking)")
    fields = _fields(item, plan)
    segments: list[tuple[str, object]] = []
    if plan.layout == "clue_frames":
        segments.append(("text", _fill(prompts, "clue_frames_intro.txt", fields) + "\n"))
        _add_images(segments, prompts, "clue_frame_caption.txt", plan, fields)
    else:
        segments.append(("text", _fill(prompts, "video_intro.txt", fields) + "\n"))
        if plan.frames_as == "images":
            _add_images(segments, prompts, "frame_caption.txt", plan, fields)
        else:
            segments.append(("video", tuple(range(len(plan.frame_indices)))))
            captions = [_fill(prompts, "frame_caption.txt", fields, n=i + 1, time=format_seconds(t))
                        for i, t in enumerate(plan.frame_times)]
            segments.append(("text", "\n".join(captions) + "\n"))
    for k, (start, end) in enumerate(plan.audio_stated_times):
        caption = _fill(prompts, "audio_caption.txt", fields, start=format_seconds(start), end=format_seconds(end))
        segments += [("text", caption + "\n"), ("audio", k)]
    question_file = prompts.question_file(protocol, item.category, reasoning)
    segments.append(("text", _fill(prompts, question_file, fields)))
    return ModelRequest(
        index=item.index, video_path=str(plan.video_path), protocol=protocol, reasoning=reasoning,  # type: ignore[arg-type]
        category=item.category, system_prompt=_fill(prompts, "system.txt", fields).strip(),
        segments=tuple(segments), frame_indices=tuple(plan.frame_indices),
        frame_times=tuple(round(float(t), 2) for t in plan.frame_times), audio_spans=plan.audio_spans,
        prompt_set=prompts.name, prompt_hash=prompts.hash, max_new_tokens=max_new_tokens,
        frames_as="images" if plan.layout == "clue_frames" else plan.frames_as,
        extra={"audio_note": plan.audio_note, "frame_size": list(plan.frame_size),
               "duration": round(plan.duration, 3), "question_template": question_file,
               "question": item.question, "span": [round(plan.span[0], 3), round(plan.span[1], 3)]},
    )


def _add_images(segments: list, prompts: PromptSet, caption_file: str, plan: MediaPlan, fields: dict) -> None:
    for i, t in enumerate(plan.frame_times):
        segments.append(("text", _fill(prompts, caption_file, fields, n=i + 1, time=format_seconds(t)) + "\n"))
        segments.append(("frame", i))


def _fields(item: Item, plan: MediaPlan) -> dict[str, object]:
    width, height = plan.frame_size
    return {"question": item.question, "category": item.category, "duration": format_seconds(plan.duration),
            "count": len(plan.frame_indices), "width": width, "height": height}


def _fill(prompts: PromptSet, relative: str, fields: dict, **more: object) -> str:
    try:
        return prompts.template(relative).substitute(fields, **more)
    except KeyError as exc:
        raise PromptError(f"prompt set {prompts.folder}: {relative} uses unknown placeholder ${{{exc.args[0]}}}") from None
    except ValueError as exc:
        raise PromptError(f"prompt set {prompts.folder}: {relative}: {exc}") from None
