"""Scene planning: which shapes and sounds happen when, and which questions they answer.

Every question owns its vocabulary (a shape kind, a sound) and all of it lives
inside the question's query interval, so the count over the whole video equals
the count inside the interval (long and ref protocols agree). Distractors use
kinds and sounds no question asks about, or near misses inside the interval
(other colours of the asked kind, the asked shape without the asked sound).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.synth.scene import COLOURS, GRID, SHAPE_KINDS, Scene, Shape, Sound, plural
from engine.synth.sound import BEEP_HZ

Span = tuple[int, int]
"""Frames [first, end)."""
Instance = tuple[int, int]
"""(shape id, frame at which its clue box is read)."""

TRIGGER_S = 0.03


@dataclass(frozen=True)
class Plan:
    """One question before it becomes a benchmark item: what is counted and where."""

    category: str
    modality: str
    question: str
    target: dict
    interval: Span
    events: tuple[Span, ...] = ()
    boxes: tuple[Instance, ...] = ()
    clusters: tuple[tuple[Instance, ...], ...] = ()

    @property
    def answer(self) -> int:
        return len(self.events) or len(self.boxes) or len(self.clusters)


@dataclass(frozen=True)
class Vocabulary:
    """Per-video assignment of shape kinds and sounds to question roles."""

    kinds: tuple[str, ...]
    beep: str
    other_beeps: tuple[str, ...]

    @property
    def free_kinds(self) -> tuple[str, ...]:
        return self.kinds[6:]


class Board:
    """Places shapes into free screen cells and keeps the scene's shapes and sounds."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, fps: float, frames: int) -> None:
        self.rng, self.width, self.height, self.fps, self.frames = rng, width, height, fps, frames
        self.cells: list[list[Span]] = [[] for _ in range(GRID[0] * GRID[1])]
        self.shapes: list[Shape] = []
        self.sounds: list[Sound] = []
        self.pad = max(1, round(0.2 * fps))

    def nframes(self, seconds: float) -> int:
        return max(1, round(seconds * self.fps))

    def count(self, low: int, high: int) -> int:
        return int(self.rng.integers(low, high + 1))

    def pick(self, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.rng.integers(len(options)))]

    def spans(self, interval: Span, n: int, seconds: tuple[float, float], gap_s: float = 0.25) -> list[Span]:
        """Up to n disjoint random spans inside `interval` (fewer when it is too short, at least one)."""
        lo, hi = interval
        gap = self.nframes(gap_s)
        durs = list(self.rng.integers(self.nframes(seconds[0]), self.nframes(seconds[1]) + 1, size=n))
        while len(durs) > 1 and sum(durs) + (len(durs) + 1) * gap > hi - lo:
            durs.pop()
        room = hi - lo - (len(durs) + 1) * gap
        if sum(durs) > room:
            durs = [max(1, d * room // sum(durs)) for d in durs]
        free = max(0, hi - lo - sum(durs) - (len(durs) + 1) * gap)
        cuts = np.sort(self.rng.integers(0, free + 1, size=len(durs)))
        spans, pos, used = [], lo + gap, 0
        for dur, cut in zip(durs, cuts, strict=True):
            pos += int(cut) - used
            used = int(cut)
            spans.append((pos, pos + int(dur)))
            pos += int(dur) + gap
        return spans

    def _free_cells(self, span: Span) -> list[int]:
        a, b = span[0] - self.pad, span[1] + self.pad
        return [c for c, busy in enumerate(self.cells) if all(e <= a or s >= b for s, e in busy)]

    def add_shape(
        self, kind: str, colour: str, span: Span, moving: bool = True, required: bool = True
    ) -> Shape | None:
        """Put a shape in a random free cell for `span`; a required one must fit (targets), others may be dropped."""
        free = self._free_cells(span)
        if not free:
            if required:
                raise RuntimeError(f"no free screen cell for a {colour} {kind} at frames {span}")
            return None
        cell = free[int(self.rng.integers(len(free)))]
        self.cells[cell].append(span)
        col, row = cell % GRID[0], cell // GRID[0]
        x0, x1 = col * self.width // GRID[0], (col + 1) * self.width // GRID[0]
        y0, y1 = row * self.height // GRID[1], (row + 1) * self.height // GRID[1]
        side = min(x1 - x0, y1 - y0)
        radius = self.count(max(3, int(0.28 * side)), max(4, int(0.4 * side)))
        p0 = self._point(x0, x1, y0, y1, radius)
        p1 = self._point(x0, x1, y0, y1, radius) if moving else p0
        shape = Shape(len(self.shapes), kind, colour, span[0], span[1], p0, p1, radius)
        self.shapes.append(shape)
        return shape

    def _point(self, x0: int, x1: int, y0: int, y1: int, radius: int) -> tuple[int, int]:
        return (self.count(x0 + radius + 1, x1 - radius - 2), self.count(y0 + radius + 1, y1 - radius - 2))

    def add_sound(self, kind: str, span: Span) -> None:
        self.sounds.append(Sound(kind, span[0] / self.fps, span[1] / self.fps))

    def add_trigger(self, kind: str, frame: int) -> None:
        """A short sound starting at the centre of `frame`, the frame a viewer sees when it sounds."""
        start = (frame + 0.5) / self.fps
        self.sounds.append(Sound(kind, start, start + TRIGGER_S))

    def query_interval(self) -> Span:
        length = int(self.frames * self.rng.uniform(0.35, 0.7))
        start = self.count(0, self.frames - length)
        return (start, start + length)

    def other_colours(self, colour: str) -> list[str]:
        return [c for c in COLOURS if c != colour]


def _mid(span: Span) -> int:
    return (span[0] + span[1] - 1) // 2


def _split_roles(board: Board, spans: list[Span], sizes: tuple[int, ...]) -> list[list[Span]]:
    """Deal spans at random into groups of the given sizes (the first group gets at least one)."""
    order = [spans[i] for i in board.rng.permutation(len(spans))]
    groups, pos = [], 0
    for size in sizes:
        groups.append(sorted(order[pos : pos + size]))
        pos += size
    return groups


def event_audio(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    interval = board.query_interval()
    spans = board.spans(interval, board.count(2, 5 + extra), (0.25, 0.8))
    for span in spans:
        board.add_sound(vocab.beep, span)
    question = f"How many times does the {vocab.beep} sound?"
    return Plan("event", "audio", question, {"sound": vocab.beep}, interval, events=tuple(spans))


def event_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind, colour = vocab.kinds[0], board.pick(list(COLOURS))
    interval = board.query_interval()
    spans = board.spans(interval, board.count(2, 5 + extra) + board.count(1, 3), (0.4, 1.2))
    targets, misses = _split_roles(board, spans, (max(1, len(spans) - board.count(1, 3)), len(spans)))
    for span in targets:
        board.add_shape(kind, colour, span, moving=False)
    for span in misses:
        board.add_shape(kind, board.pick(board.other_colours(colour)), span, moving=False, required=False)
    question = f"How many times does the {colour} {kind} flash on screen?"
    return Plan(
        "event", "visual", question, {"shape": kind, "colour": colour}, interval, events=tuple(targets)
    )


def event_audio_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind, colour = vocab.kinds[1], board.pick(list(COLOURS))
    interval = board.query_interval()
    spans = board.spans(interval, board.count(2, 4 + extra) + board.count(2, 4), (0.5, 1.4))
    n = max(1, len(spans) - board.count(2, 4))
    targets, alone_shape, alone_sound = _split_roles(board, spans, (n, (len(spans) - n + 1) // 2, len(spans)))
    for span in targets:
        board.add_shape(kind, colour, span, moving=False)
        board.add_sound("chirp", span)
    for span in alone_shape:
        board.add_shape(kind, colour, span, moving=False, required=False)
    for span in alone_sound:
        board.add_sound("chirp", span)
    question = f"How many times does the {colour} {kind} appear together with a chirp?"
    target = {"shape": kind, "colour": colour, "sound": "chirp"}
    return Plan("event", "audio-visual", question, target, interval, events=tuple(targets))


def _deal(board: Board, total: int, groups: int, cap: int) -> list[int]:
    """Split `total` into `groups` parts of 1..cap each (total is clipped to fit)."""
    total = min(max(total, groups), groups * cap)
    sizes = [1] * groups
    for _ in range(total - groups):
        open_groups = [g for g in range(groups) if sizes[g] < cap]
        sizes[open_groups[int(board.rng.integers(len(open_groups)))]] += 1
    return sizes


def _near_misses(board: Board, kind: str, colour: str, span: Span, n: int) -> None:
    for _ in range(n):
        board.add_shape(kind, board.pick(board.other_colours(colour)), span, required=False)


def object_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind, colour = vocab.kinds[2], board.pick(list(COLOURS))
    interval = board.query_interval()
    spans = board.spans(interval, board.count(2, 4), (1.5, 4.0))
    waves, empty = spans[:-1] or spans, spans[-1:] if len(spans) > 1 else []
    sizes = _deal(board, board.count(2, 5 + extra), len(waves), 3)
    boxes: list[Instance] = []
    for span, size in zip(waves, sizes, strict=True):
        boxes += [(board.add_shape(kind, colour, span).sid, _mid(span)) for _ in range(size)]
        _near_misses(board, kind, colour, span, board.count(0, 2))
    for span in empty:
        _near_misses(board, kind, colour, span, board.count(1, 2))
    question = f"How many {colour} {plural(kind)} appear in the video?"
    return Plan("object", "visual", question, {"shape": kind, "colour": colour}, interval, boxes=tuple(boxes))


def object_audio_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind, colour = vocab.kinds[3], board.pick(list(COLOURS))
    interval = board.query_interval()
    spans = board.spans(interval, 1 + board.count(1, 3), (1.5, 4.0))
    trigger_span, others = spans[0], spans[1:]
    if len(spans) > 1:
        pick = int(board.rng.integers(len(spans)))
        trigger_span, others = spans[pick], spans[:pick] + spans[pick + 1 :]
    frame = _mid(trigger_span)
    board.add_trigger("click", frame)
    boxes = [
        (board.add_shape(kind, colour, trigger_span).sid, frame)
        for _ in range(board.count(1, 4 + extra // 2))
    ]
    _near_misses(board, kind, colour, trigger_span, board.count(0, 2))
    for span in others:
        board.add_shape(kind, colour, span, required=False)
        _near_misses(board, kind, colour, span, board.count(0, 1))
    question = f"How many {colour} {plural(kind)} are on screen when the click sounds?"
    target = {"shape": kind, "colour": colour, "sound": "click"}
    return Plan("object", "audio-visual", question, target, interval, boxes=tuple(boxes))


def _clusters(shapes: list[tuple[Shape, int]]) -> tuple[tuple[Instance, ...], ...]:
    """Group (shape, clue frame) by colour, clusters and members in order of appearance."""
    groups: dict[str, list[Instance]] = {}
    for shape, frame in sorted(shapes, key=lambda sf: (sf[1], sf[0].sid)):
        groups.setdefault(shape.colour, []).append((shape.sid, frame))
    return tuple(tuple(group) for group in groups.values())


def attribute_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind = vocab.kinds[4]
    interval = board.query_interval()
    waves = board.spans(interval, board.count(2, 4), (1.5, 4.0))
    colours = [str(c) for c in board.rng.permutation(list(COLOURS))[: board.count(2, 5)]]
    placed: list[tuple[Shape, int]] = []
    for i, colour in enumerate(colours):
        for j in range(board.count(1, 2)):
            span = waves[(i + j) % len(waves)] if j == 0 else waves[int(board.rng.integers(len(waves)))]
            placed.append((board.add_shape(kind, colour, span), _mid(span)))
    question = f"How many different colours of {plural(kind)} appear?"
    return Plan("attribute", "visual", question, {"shape": kind}, interval, clusters=_clusters(placed))


def attribute_audio_visual(board: Board, vocab: Vocabulary, extra: int) -> Plan:
    kind = vocab.kinds[5]
    interval = board.query_interval()
    spans = board.spans(interval, 1 + board.count(1, 2), (1.5, 4.0))
    pick = int(board.rng.integers(len(spans)))
    trigger_span, others = spans[pick], spans[:pick] + spans[pick + 1 :]
    frame = _mid(trigger_span)
    board.add_trigger("whistle", frame)
    colours = [str(c) for c in board.rng.permutation(list(COLOURS))[: board.count(2, 4)]]
    placed = [
        (board.add_shape(kind, colour, trigger_span), frame)
        for colour in colours
        for _ in range(board.count(1, 2))
    ]
    for span in others:
        for _ in range(board.count(1, 2)):
            board.add_shape(kind, board.pick(list(COLOURS)), span, required=False)
    question = f"How many different colours of {plural(kind)} are on screen when the whistle sounds?"
    target = {"shape": kind, "sound": "whistle"}
    return Plan("attribute", "audio-visual", question, target, interval, clusters=_clusters(placed))


ROLES = (
    event_audio,
    event_visual,
    event_audio_visual,
    object_visual,
    object_audio_visual,
    attribute_visual,
    attribute_audio_visual,
)


def _background(board: Board, vocab: Vocabulary) -> None:
    """Shapes and sounds no question asks about, all over the video."""
    seconds = board.frames / board.fps
    for _ in range(int(seconds / 1.2) + 1):
        start = board.count(0, max(0, board.frames - board.nframes(1.0)))
        span = (start, min(board.frames, start + board.nframes(board.rng.uniform(1.0, 4.0))))
        board.add_shape(board.pick(vocab.free_kinds), board.pick(list(COLOURS)), span, required=False)
    for _ in range(int(seconds / 4) + 1):
        start = board.count(0, max(0, board.frames - board.nframes(0.8)))
        span = (start, min(board.frames, start + board.nframes(board.rng.uniform(0.2, 0.8))))
        board.add_sound(board.pick((*vocab.other_beeps, "buzz")), span)


def video_name(index: int) -> str:
    return f"vid{index:03d}"


def build_scene(
    index: int, seed: int, width: int, height: int, fps: float, audio_rate: int, seconds: float
) -> tuple[Scene, list[Plan]]:
    """Plan one video and its questions; the same arguments always give the same scene.

    Each video has its own random stream, so video N is the same whatever the video count.
    """
    rng = np.random.default_rng([seed, index])
    frames = max(1, round(seconds * fps))
    board = Board(rng, width, height, fps, frames)
    beeps = tuple(BEEP_HZ)
    beep = board.pick(beeps)
    vocab = Vocabulary(
        tuple(str(k) for k in rng.permutation(SHAPE_KINDS)), beep, tuple(b for b in beeps if b != beep)
    )
    extra = int(min(8.0, seconds / 60.0))
    plans = [role(board, vocab, extra) for role in ROLES]
    _background(board, vocab)
    shapes = tuple(sorted(board.shapes, key=lambda s: (s.frame0, s.sid)))
    sounds = tuple(sorted(board.sounds, key=lambda s: (s.start, s.end, s.kind)))
    scene = Scene(video_name(index), seed, width, height, fps, audio_rate, frames, shapes, sounds)
    return scene, plans
