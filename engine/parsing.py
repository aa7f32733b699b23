"""Reading model answers: counts (black-box) and clue geometry (white-box).

Mode `official` follows the benchmark's public scripts exactly (METRICS.md), odd
corners included; `strict` additionally reads `<answer>` tags and digits in prose
for counts. Nothing here raises on model text: failures come back as reasons.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from word2number import w2n

from engine.results import Box, CountParse, Interval, Mode, ParsedClue

_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"

# Strict-mode numbers: `(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)` read in linear time. A candidate is a
# maximal run of word characters and dots that starts with a digit; the regex above can only match
# its leading number, and only when no digit follows that number inside the run.
_DIGIT_RUN_RE = re.compile(r"(?<![\w.])\d[\w.]*+")
_LEADING_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_DIGIT_RE = re.compile(r"\d")
_WORD_OR_DOT_RE = re.compile(r"[\w.]")

# JSON blocks. The scan below follows the benchmark's stack matching (brackets inside strings count,
# a mismatched closer empties the stack), but lets the regex engine skip, in one pass, the text
# between blocks and every block up to 8 deep that a cheap regex check shows cannot be JSON (see
# _SKIP_RE). A block with one peak (a run of openers, then text and pairs up to 8 deep, then a run
# of closers) is delimited by one regex call; other blocks go run by run: a run of openers is
# pushed and a run of closers popped as a whole, the pairs up to 8 deep between them stepped over
# in C. A block is decoded only if it reads as a sequence of JSON tokens that may follow each
# other, and a failed block repeated right after itself is passed over. Every step is linear.
_NOT_BRACKET = r"[^\[\]{}]"
_WS = r"[ \t\n\r]*+"
_STRING = r'"(?:[^"\\\x00-\x1f\[\]{}]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+"'
_SCALAR = rf"(?:{_STRING}|-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?|true|false|null|NaN|-?Infinity)"


def _json_shaped(depth: int) -> str:
    """Regex of a JSON array/object nested at most `depth` deep whose strings hold no brackets."""
    inner = _SCALAR if depth == 1 else rf"(?:{_SCALAR}|{_json_shaped(depth - 1)})"
    array = rf"\[{_WS}(?:{inner}{_WS}(?:,{_WS}{inner}{_WS})*+)?\]"
    member = rf"{_STRING}{_WS}:{_WS}{inner}{_WS}"
    return rf"(?:{array}|\{{{_WS}(?:{member}(?:,{_WS}{member})*+)?\}})"


def _well_nested(depth: int) -> str:
    """Regex of a block with matching bracket pairs nested at most `depth` deep (brackets inside
    strings count, as in stack matching)."""
    text = r"[^\[\]{}]++"
    inner = rf"(?:{text})" if depth == 1 else rf"(?:{text}|{_well_nested(depth - 1)})"
    return rf"(?:\[{inner}*+\]|\{{{inner}*+\}})"


def _maybe_json(depth: int) -> str:
    """Regex that matches, at its start, every JSON array/object nested at most `depth` deep whose
    strings hold no brackets, and a little more (closers' kinds and keys after an array's first
    item are not checked): its size grows linearly with `depth`, and a block it does not match
    cannot be such JSON."""
    inner = _SCALAR if depth == 1 else rf"(?:{_SCALAR}|{_maybe_json(depth - 1)})"
    item = rf"(?:{_STRING}{_WS}:{_WS})?{inner}{_WS}(?:,{_WS}(?![\]}}])|(?=[\]}}]))"
    opener = rf"(?:\[{_WS}(?!{_STRING}{_WS}:)|\{{{_WS}(?=[\"}}]))"
    return rf"{opener}(?:{item})*+[\]}}]"


def _well_nested_quoted(depth: int) -> str:
    """Regex of a block with matching pairs nested at most `depth` deep, read the way JSON reads
    it: quotes pair up into strings that hold no brackets, no backslash outside them. Every
    bracket in it is structure, so its end is where stack matching ends it."""
    text = r'(?:[^\[\]{}"\\]++|"(?:[^"\\\[\]{}]|\\[^\[\]{}])*+")'
    inner = text if depth == 1 else rf"(?:{text}|{_well_nested_quoted(depth - 1)})"
    return rf"(?:\[{inner}*+\]|\{{{inner}*+\}})"


_JSON_SHAPED_RE = re.compile(_json_shaped(3))
#: A block with matching pairs up to 8 deep (quotes do not matter to where stack matching ends it).
_WELL_NESTED_RE = re.compile(_well_nested(8))
_OPENS_9_DEEP = rf"[\[{{](?:{_NOT_BRACKET}*+[\[{{]){{8}}"  # 9 openers before any closer: not up to 8 deep
_OPENS_9_DEEP_RE = re.compile(_OPENS_9_DEEP)
#: Text at stack depth 0 holding no block worth parsing: prose, stray closers, flat bracket pairs
#: (matched or not) that are not JSON, and blocks up to 8 deep whose strings hold no brackets and
#: that `_maybe_json` rules out (unquoted words, missing commas...), all in one regex call. Such a
#: block is found first (a lookahead), so the JSON check never reads past its end; a backreference
#: then consumes it.
_SKIP_RE = re.compile(
    rf"(?:{_NOT_BRACKET}++|[\]}}]|(?!{_json_shaped(1)})[\[{{]{_NOT_BRACKET}*+[\]}}]"
    rf"|(?!{_OPENS_9_DEEP})(?=(?P<block>{_well_nested_quoted(8)}))(?!{_maybe_json(8)})(?P=block))*+"
)
#: Inside a block deeper than the regexes reach: text and blocks up to 8 deep with matching pairs
#: (they leave the stack as it was) are stepped over in C; what remains is runs of openers and
#: runs of closers, each pushed or popped as a whole.
_NEUTRAL = rf"(?:{_well_nested(8)}|{_NOT_BRACKET}++)*+"
_RUNS = (
    rf"(?:(?P<open>[\[{{]++)(?P<open_more>(?:{_NOT_BRACKET}++[\[{{]++)*+))?"
    rf"{_NOT_BRACKET}*+(?:(?P<close>[\]}}]++)(?P<close_more>(?:{_NOT_BRACKET}++[\]}}]++)*+))?"
)
_STEP_RE = re.compile(_NEUTRAL + _RUNS)
_FIRST_STEP_RE = re.compile(_RUNS)  # at the block's opener: the block itself is not a pair to step over
_PEAK_RE = re.compile(rf"(?P<open>[\[{{]++){_NEUTRAL}(?P<close>[\]}}](?:{_NOT_BRACKET}*+[\]}}])*+)")
_TEXT_RE = re.compile(rf"{_NOT_BRACKET}++")
_OPENER_OF = str.maketrans("]}", "[{")
#: JSON read as a sequence of tokens, each checked against the token after it (what may follow
#: `{`, `[`, a value, `,` or `:`; brackets are not paired): a block that is not such a sequence
#: cannot decode, and telling so in one C pass is cheaper than the decoder's exception.
_JSON_STRING = r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*+"'
_VALUE_START = r"""(?=[\[{"\-0-9tfnNI])"""
_NON_STRING_START = r"(?=[\[{\-0-9tfnNI])"
_AFTER_VALUE = r"(?=[,\]}]|\Z)"
_JSON_TOKENS_RE = re.compile(
    # after `[` or `:` a string is a value (never a key), after `,` it may be either
    rf"(?:[\[:]{_WS}(?:{_JSON_STRING}{_WS}{_AFTER_VALUE}|{_NON_STRING_START})|\[{_WS}(?=\])"
    rf"""|\{{{_WS}(?=["}}])|[\]}}]{_WS}{_AFTER_VALUE}|,{_WS}{_VALUE_START}"""
    rf"|{_JSON_STRING}{_WS}(?:{_AFTER_VALUE}|(?=:))"
    rf"|(?:-?Infinity|-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][-+]?[0-9]++)?|true|false|null|NaN){_WS}{_AFTER_VALUE})*+"
)
_DECODER = json.JSONDecoder()


class ClueFormatError(ValueError):
    """The answer does not have the shape its category requires."""


# ---------------------------------------------------------------- text pieces
def extract_answer_text(text: str) -> str:
    """The first <answer>...</answer> body (stripped), else the whole text stripped.

    Same result as the first match of `<answer>(.*?)</answer>` (dot matches newline), found with two
    `str.find` calls: if the first opening tag has no closing tag after it, no later one has either.
    """
    start = text.find(_ANSWER_OPEN)
    if start >= 0:
        end = text.find(_ANSWER_CLOSE, start + len(_ANSWER_OPEN))
        if end >= 0:
            return text[start + len(_ANSWER_OPEN) : end].strip()
    return text.strip()


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(thinking, answer) for display: reasoning is shown apart from what is scored."""
    think = _THINK_RE.search(text)
    thinking = think.group(1).strip() if think else None
    return thinking, extract_answer_text(_THINK_RE.sub("", text) if think else text)


def _outermost_blocks(text: str):
    """Yield (start, end) of every outermost balanced {...} / [...] span, left to right (stack matching).

    A span yielded again and again would give the same (failed) parse: copies of it that follow it
    directly are stepped over, not yielded.
    """
    pos, size = 0, len(text)
    closers_left = text.count("]") + text.count("}")
    while pos < size:
        pos = _SKIP_RE.match(text, pos).end()
        if pos >= size:
            return
        shaped = _JSON_SHAPED_RE.match(text, pos)
        if shaped:
            yield pos, shaped.end()
            pos = shaped.end()
            continue
        if not closers_left:
            return
        span, pos = _block_at(text, pos)
        if span and _JSON_TOKENS_RE.match(text, *span).end() == span[1]:
            yield span
            pos = _past_copies(text, *span)


def _block_at(text: str, pos: int) -> tuple[tuple[int, int] | None, int]:
    """The stack-matched block that starts at `pos` (or None), and where the depth-0 scan resumes:
    in one regex call for a block up to 8 deep or a single peak (a run of openers, pairs up to 8
    deep and text, a run of closers), else run by run."""
    nested = None if _OPENS_9_DEEP_RE.match(text, pos) else _WELL_NESTED_RE.match(text, pos)
    if nested:
        return (pos, nested.end()), nested.end()
    peak = _PEAK_RE.match(text, pos)
    if peak:
        openers, closers = peak.group("open"), _brackets_only(peak.group("close"))
        reach = min(len(openers), len(closers))
        popped = _common_prefix_length(openers[: -reach - 1 : -1], closers[:reach].translate(_OPENER_OF))
        if popped == len(openers) or popped < reach:  # the stack is emptied, or cleared by a mismatch
            ending = popped if popped == len(openers) else popped + 1
            end = _closer_end(text, peak.start("close"), peak.end(), ending)
            return ((pos, end) if popped == len(openers) else None), end
    return _nested_block(text, pos)


def _nested_block(text: str, pos: int) -> tuple[tuple[int, int] | None, int]:
    """Stack-match from the opener at `pos` until the stack empties (a block) or is cleared by a
    mismatched closer: (the block's span or None, where the depth-0 scan resumes). Each step takes
    a run of openers and the run of closers after it (each with any text between its brackets)."""
    stack: list[str] = []
    step = _FIRST_STEP_RE.match(text, pos)
    while step.end() > step.start():  # match, not finditer: a search would skip text the stack must see
        openers, more_openers, closers, more_closers = step.group("open", "open_more", "close", "close_more")
        if openers:
            stack.extend(_TEXT_RE.sub("", openers + more_openers) if more_openers else openers)
        if closers:
            if more_closers:
                closers = _TEXT_RE.sub("", closers + more_closers)
            wanted = closers.translate(_OPENER_OF)[::-1]  # the openers they close, bottom to top
            count = len(closers)
            if count < len(stack) and "".join(stack[-count:]) == wanted:
                del stack[-count:]
            else:
                popped = _pop_run(stack, wanted[::-1])
                ending = popped + 1 if stack else popped  # the closer that ends the block or clears it
                close_start = step.start("close")
                end = step.end() if ending == count else _closer_end(text, close_start, step.end(), ending)
                return ((pos, end) if not stack else None), end
        step = _STEP_RE.match(text, step.end())
    return None, len(text)


def _brackets_only(run: str) -> str:
    """A run's brackets without the text between them."""
    return _TEXT_RE.sub("", run) if len(run) > 1 else run


def _closer_end(text: str, start: int, stop: int, count: int) -> int:
    """Where the `count`-th closer from `start` ends (a run's closers may have text between them):
    bisection over C counts, never a Python loop over the closers."""
    low, high = start + count, stop
    if stop - start == count:  # no text between the closers
        return stop
    while low < high:
        middle = (low + high) // 2
        if text.count("]", start, middle) + text.count("}", start, middle) >= count:
            high = middle
        else:
            low = middle + 1
    return low


def _pop_run(stack: list[str], wanted: str) -> int:
    """Pop the openers that a run of closers (given as the openers they close, in closing order)
    matches: how many were popped. It stops at the first mismatch or when the stack is empty."""
    if len(wanted) == 1:  # the common case, kept cheap
        if stack[-1] != wanted:
            return 0
        stack.pop()
        return 1
    reach = min(len(wanted), len(stack))
    top_first = "".join(stack[-reach:])[::-1]
    matched = _common_prefix_length(top_first, wanted[:reach])
    del stack[len(stack) - matched :]
    return matched


def _common_prefix_length(a: str, b: str) -> int:
    """Length of the common prefix of two equally long strings, by bisection over C comparisons."""
    if a == b:
        return len(a)
    low, high = 0, len(a) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _past_copies(text: str, start: int, end: int) -> int:
    """Where the copies of text[start:end] that directly follow it end (`end` if none)."""
    length = end - start
    block = text[start:end]
    while text.startswith(block, end):
        end += length
    return end


def _parse_block(text: str, start: int, end: int) -> tuple[Any, bool]:
    """json.loads(text[start:end]) through the decoder's C scanner.

    The block is sliced first: a decode error counts the lines of the string it was handed, so
    handing it the whole answer would make each failure cost the answer's length.
    """
    block = text[start:end]
    try:
        value, stop = _DECODER.scan_once(block, 0)
    except (StopIteration, ValueError, RecursionError):
        return None, False
    return (value, True) if stop == len(block) else (None, False)


def find_json(text: str) -> tuple[Any, bool]:
    """Parse text as JSON, else the first outermost bracket block that parses. (value, found)."""
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        pass
    for start, end in _outermost_blocks(text):
        value, found = _parse_block(text, start, end)
        if found:
            return value, True
    return None, False


# ---------------------------------------------------------------- counts
def parse_count(text: str, mode: Mode = "official") -> CountParse:
    """Count from model text. official: word2number's word_to_num on the raw text."""
    if not isinstance(text, str):
        return CountParse(None, f"prediction is {type(text).__name__}, not text")
    value, reason = _word_to_num(text)
    if value is not None or mode == "official":
        return CountParse(value, reason, text)
    answer = extract_answer_text(text)
    value, _ = _word_to_num(answer)
    if value is None:
        number = first_number(answer)
        if number is not None:
            value = float(number)
            if not math.isfinite(value):
                return CountParse(None, "number is not finite", answer)
            value = int(value) if value.is_integer() else value
    if value is None:
        return CountParse(None, reason, answer)
    return CountParse(value, None, answer)


def first_number(text: str) -> str | None:
    """The first standalone number in prose ("-3", "2.5"; not the 2 of "x2" or "2nd"), in linear time."""
    for run in _DIGIT_RUN_RE.finditer(text):
        number = _LEADING_NUMBER_RE.match(text, run.start(), run.end())
        if _DIGIT_RE.search(text, number.end(), run.end()):
            continue
        minus = run.start() - 1
        signed = minus >= 0 and text[minus] == "-" and not (minus > 0 and _WORD_OR_DOT_RE.match(text, minus - 1))
        return ("-" if signed else "") + number.group()
    return None


def _word_to_num(text: str) -> tuple[float | None, str | None]:
    try:
        value = w2n.word_to_num(text)
    except Exception as exc:  # word2number raises ValueError, IndexError, TypeError on odd input
        return None, f"no number found ({_short(str(exc) or type(exc).__name__)})"
    if isinstance(value, float) and not math.isfinite(value):
        return None, "number is not finite"
    return value, None


# ---------------------------------------------------------------- clues
def parse_clue(category: str, text: str, mode: Mode = "official") -> ParsedClue:
    """Geometry of a clue answer, or a ParsedClue with `failure` set (never raises)."""
    if not isinstance(text, str):
        return ParsedClue(category, failure=f"prediction is {type(text).__name__}, not text")
    answer = extract_answer_text(text)
    value, found = find_json(answer)
    if not found:
        return ParsedClue(category, failure="no JSON found in the answer", answer_text=answer)
    try:
        if category == "event":
            return ParsedClue(category, intervals=parse_event_value(value), answer_text=answer)
        if category == "object":
            return ParsedClue(category, frames=parse_object_value(value), answer_text=answer)
        if category == "attribute":
            return ParsedClue(category, clusters=parse_attribute_value(value), answer_text=answer)
    except (ClueFormatError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return ParsedClue(category, failure=_short(str(exc) or type(exc).__name__), answer_text=answer)
    return ParsedClue(category, failure=f"unknown category {category!r}", answer_text=answer)


def parse_event_value(value: Any) -> tuple[Interval, ...]:
    if not isinstance(value, list):
        raise ClueFormatError(f"event answer must be a list of [start, end] pairs, got {_kind(value)}")
    intervals = []
    for n, pair in enumerate(value, start=1):
        if not isinstance(pair, list) or len(pair) != 2:
            raise ClueFormatError(f"event pair {n} is not two times: {_json_text(pair)}")
        intervals.append(_event_pair(pair, n))
    return tuple(intervals)


def _event_pair(pair: list, n: int) -> Interval:
    a, b = pair
    if isinstance(a, str) and isinstance(b, str) and ":" in a and ":" in b:
        times = _clock_seconds(a, n), _clock_seconds(b, n)
    else:
        times = _event_side(a, n), _event_side(b, n)
    if not all(math.isfinite(t) for t in times):
        raise ClueFormatError(f"event pair {n}: a time is not a finite number")
    return times


def _clock_seconds(text: str, n: int) -> float:
    """'[h:]m:s[.frac]' -> seconds."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise ClueFormatError(f"event pair {n}: {_short(repr(text))} is not [h:]m:s")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ClueFormatError(f"event pair {n}: {_short(repr(text))} is not [h:]m:s") from None
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def _event_side(side: Any, n: int) -> float:
    if isinstance(side, str):
        head = side.split(" ")[0]
        try:
            return float(head)
        except ValueError:
            raise ClueFormatError(f"event pair {n}: {_short(repr(side))} is not a time") from None
    if isinstance(side, float):
        return side
    if isinstance(side, int) and not isinstance(side, bool):
        try:
            return float(side)
        except OverflowError:
            raise ClueFormatError(f"event pair {n}: a time is too large") from None
    raise ClueFormatError(f"event pair {n}: {_json_text(side)} is not a time")


def _frame_index(key: str) -> int:
    try:
        return int(key.replace("Frame", "")) - 1
    except ValueError:
        raise ClueFormatError(f"frame key {_short(repr(key))} has no frame number") from None


def parse_object_value(value: Any) -> dict[int, list[Box]]:
    if not isinstance(value, dict):
        raise ClueFormatError(f"object answer must be a JSON object of frames, got {_kind(value)}")
    frames: dict[int, list[Box]] = {}
    for key, boxes in value.items():
        if "Frame" not in key:
            continue
        frames.setdefault(_frame_index(key), []).extend(_frame_boxes(boxes, key))
    return frames


def _frame_boxes(value: Any, key: str) -> list[Box]:
    """A frame's boxes: every 4-list, or corner pairs read two elements at a time
    (elements 0+1, 2+3, ...; a step where either is not a 2-list gives nothing)."""
    if not isinstance(value, list):
        raise ClueFormatError(f"{key}: expected a list of boxes, got {_kind(value)}")
    if not value:
        return []
    first = value[0]
    if isinstance(first, list) and len(first) == 4:
        return [_box(v, key) for v in value if isinstance(v, list) and len(v) == 4]
    if isinstance(first, list) and len(first) == 2:
        return [_box(a + b, key) for a, b in zip(value[::2], value[1::2], strict=False) if _is_point(a) and _is_point(b)]
    raise ClueFormatError(f"{key}: boxes must be [x1, y1, x2, y2] or corner pairs")


def _is_point(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _box(values: list, key: str) -> Box:
    """A box of finite floats; a coordinate that is not a number (or too large for one) is a format error."""
    for v in values:
        if type(v) is not float and (type(v) is not int):  # bool is not a coordinate; JSON gives plain types
            raise ClueFormatError(f"{key}: box coordinate {_json_text(v)} is not a number")
    x1, y1, x2, y2 = values
    try:
        box = Box(float(x1), float(y1), float(x2), float(y2))
    except OverflowError:
        raise ClueFormatError(f"{key}: a box coordinate is too large") from None
    if not (math.isfinite(box[0]) and math.isfinite(box[1]) and math.isfinite(box[2]) and math.isfinite(box[3])):
        raise ClueFormatError(f"{key}: a box coordinate is not a finite number")
    return box


def parse_attribute_value(value: Any) -> dict[str, dict[int, list[Box]]]:
    if not isinstance(value, dict):
        raise ClueFormatError(f"attribute answer must be a JSON object of frames, got {_kind(value)}")
    clusters: dict[str, dict[int, list[Box]]] = {}
    for key, objects in value.items():
        if "Frame" not in key:
            continue
        frame = _frame_index(key)
        if not isinstance(objects, list):
            raise ClueFormatError(f"{key}: expected a list of labelled boxes, got {_kind(objects)}")
        for obj in objects:
            label, boxes = _labelled_boxes(obj, key)
            clusters.setdefault(label, {}).setdefault(frame, []).extend(boxes)
    return clusters


def _labelled_boxes(obj: Any, key: str) -> tuple[str, list[Box]]:
    if not isinstance(obj, dict) or "label" not in obj:
        raise ClueFormatError(f"{key}: each object needs a 'label' and a 'bbox'")
    values = [obj[f] for f in ("bbox", "bbox_2d") if f in obj]
    for value in values:
        if not isinstance(value, list) or len(value) != 4:
            raise ClueFormatError(f"{key}: a box must have 4 numbers")
    return str(obj["label"]), [_box(v, key) for v in values]


# ---------------------------------------------------------------- writing back
def answer_json_from_parsed(parsed: ParsedClue, like: str | None = None, pretty: bool = False) -> str:
    """Serialise (possibly edited) geometry as an answer the parser reads back identically.

    `like` is the model's own answer: its frame-key spelling ("Frame 1" or "Frame1") and, for object
    items, its box shape (flat [x1, y1, x2, y2] or a list of corner points, two per box) are kept, so
    an edit reads like the answer it changes. `pretty` puts one interval or box per line.
    """
    spaced = like is not None and re.search(r'"Frame \d', like) is not None
    points = like is not None and parsed.category == "object" and _CORNER_POINTS_RE.search(like) is not None

    def key(f: int) -> str:
        return f"Frame {f + 1}" if spaced else f"Frame{f + 1}"

    if parsed.category == "event":
        payload: Any = [list(iv) for iv in parsed.intervals]
        entries: dict[str, list[str]] = {"": [json.dumps(v) for v in payload]}
    elif parsed.category == "object":
        payload = {key(f): ([p for b in boxes for p in ([b[0], b[1]], [b[2], b[3]])] if points
                            else [list(b) for b in boxes]) for f, boxes in parsed.frames.items()}
        entries = {key(f): [", ".join(json.dumps(p) for p in ([b[0], b[1]], [b[2], b[3]])) if points
                            else json.dumps(list(b)) for b in boxes] for f, boxes in parsed.frames.items()}
    else:
        payload = {}
        for label, frames in parsed.clusters.items():
            for f, boxes in frames.items():
                payload.setdefault(key(f), []).extend({"bbox": list(b), "label": label} for b in boxes)
        entries = {k: [json.dumps(v) for v in values] for k, values in payload.items()}
    return f"<answer>{_pretty(entries, parsed.category == 'event') if pretty else json.dumps(payload)}</answer>"


#: A frame written as corner points: `"Frame 1": [[x, y], [x, y]...`
_CORNER_POINTS_RE = re.compile(r'"\s*:\s*\[\s*\[\s*-?[\d.]+\s*,\s*-?[\d.]+\s*\]')


def _pretty(entries: dict[str, list[str]], is_list: bool) -> str:
    """One entry (interval or box, already JSON) per line."""
    def block(lines: list[str], indent: str) -> str:
        return "[\n" + ",\n".join(indent + "  " + line for line in lines) + "\n" + indent + "]" if lines else "[]"

    if is_list:
        return block(entries[""], "")
    body = ",\n".join(f"  {json.dumps(k)}: {block(v, '  ')}" for k, v in entries.items())
    return "{\n" + body + "\n}" if body else "{}"


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text"}.get(type(value), type(value).__name__)


def _json_text(value: Any) -> str:
    """A short JSON rendering of a model's value for a message (never fails on odd values)."""
    try:
        return _short(json.dumps(value))
    except (ValueError, RecursionError):
        return _kind(value)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
