"""The config editor's checks: `avr train --check --json` output read into messages that point at a line.

The trainer validates (pydantic, trl's own config classes) and names each problem by its field path
(`stages[1].trainer.learning_rate`); this module only finds that path's line in the YAML text the user
is editing, so a click on the message puts the cursor on the field. No Qt, no training import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.resources import resource_path

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class ConfigMessage:
    """One problem or warning; `line` is 0-based in the edited text, None when the path has no line."""

    level: str  # error, warning, ok
    path: str
    message: str
    line: int | None

    def text(self) -> str:
        where = f"line {self.line + 1}, " if self.line is not None else ""
        field = f"{self.path}: " if self.path else ""
        return f"{self.level}: {where}{field}{self.message}"


def templates() -> dict[str, Path]:
    """The shipped pipeline configs (resources/stages/*.yaml) by file name."""
    folder = resource_path("stages", "smoke.yaml").parent
    return {p.name: p for p in sorted(folder.glob("*.yaml")) if not p.name.startswith(".") and _is_pipeline(p)}


def _is_pipeline(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "stages" in data


def field_line(text: str, path: str) -> int | None:
    """The 0-based line of `path` (`a.b[2].c`) in YAML `text`: its deepest part that exists."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for name, index in _PART.findall(path):
        if node is None:
            break
        node, key_line = _child(node, name, index)
        if key_line is not None:
            line = key_line
    return line


def _child(node, name: str, index: str):
    if index and isinstance(node, yaml.SequenceNode):
        i = int(index)
        if i < len(node.value):
            return node.value[i], node.value[i].start_mark.line
        return None, None
    if name and isinstance(node, yaml.MappingNode):
        for key, value in node.value:  # the mapping's own keys win over merged ones
            if getattr(key, "value", None) == name:
                return value, key.start_mark.line
        for key, value in node.value:
            if getattr(key, "value", None) == "<<":  # a merged anchor (`<<: *cpu`): the merge line
                found, _line = _child(value, name, "")
                if found is not None:
                    return found, key.start_mark.line
    return None, None


def yaml_syntax_message(text: str) -> ConfigMessage | None:
    """A YAML syntax error found locally (before asking the trainer), with its line."""
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return ConfigMessage("error", "", f"YAML syntax: {problem}", mark.line if mark else None)
    return None


def read_check_output(text: str, lines: list[str]) -> list[ConfigMessage]:
    """Messages from the `--json` line among the check's output lines (warnings of libraries ignored)."""
    result = None
    for line in lines:
        line = line.strip()
        if line.startswith("{") and '"ok"' in line:
            try:
                result = json.loads(line)
            except ValueError:
                continue
    if result is None:
        tail = next((line for line in reversed(lines) if line.strip()), "no output")
        return [ConfigMessage("error", "", f"the check did not answer: {tail.strip()}", None)]
    messages = [ConfigMessage("error", e.get("path", ""), e.get("message", ""), field_line(text, e.get("path", "")))
                for e in result.get("errors", [])]
    messages += [ConfigMessage("warning", "", str(w), None) for w in result.get("warnings", [])]
    if result.get("ok"):
        names = ", ".join(s.get("name", "?") for s in result.get("stages", []))
        messages.insert(0, ConfigMessage("ok", "", f"valid: {len(result.get('stages', []))} stages ({names})", None))
    return messages
