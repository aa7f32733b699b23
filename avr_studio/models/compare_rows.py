"""The A/B breakdown of one item: the engine's two ClueScores aligned per cluster, frame and GT
instance, so one tree shows both runs side by side (plain values, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.results import ClueScore, ClusterScore, FrameScore, InstanceMatch


@dataclass(frozen=True)
class Side:
    """One run's numbers on a row: IoU and outcome (instance rows) or score (cluster/frame rows)."""

    iou: float | None = None
    kind: str | None = None
    score: float | None = None
    pred: int | None = None  # the run's prediction index matched to this GT


@dataclass(frozen=True)
class CompareNode:
    name: str
    a: Side
    b: Side
    children: tuple[CompareNode, ...] = field(default=())

    @property
    def differs(self) -> bool:
        """An instance row whose outcome is not the same in A and B, or a row holding one."""
        if self.a.kind is not None or self.b.kind is not None:
            return self.a.kind != self.b.kind
        return any(child.differs for child in self.children)


def compare_tree(score_a: ClueScore | None, score_b: ClueScore | None) -> list[CompareNode]:
    """Clusters (by GT cluster) -> frames (by frame number) -> GT instances, then each run's
    predictions that matched no GT (hallucinated or duplicate) as their own rows."""
    clusters_a = _clusters(score_a)
    clusters_b = _clusters(score_b)
    nodes = []
    for key in sorted(set(clusters_a) | set(clusters_b)):
        ca, cb = clusters_a.get(key), clusters_b.get(key)
        name = _cluster_name(key, ca, cb, (score_a or score_b).category)
        frames = _frames(ca, cb)
        nodes.append(CompareNode(name, Side(score=ca.score if ca else None), Side(score=cb.score if cb else None),
                                 frames))
    return nodes


def _clusters(score: ClueScore | None) -> dict[int, ClusterScore]:
    if score is None or score.failed:
        return {}
    return {c.gt_cluster: c for c in score.clusters}


def _cluster_name(key: int, ca: ClusterScore | None, cb: ClusterScore | None, category: str) -> str:
    if category != "attribute":
        return "all"
    labels = [f"{tag}:{c.pred_label}" for tag, c in (("A", ca), ("B", cb)) if c is not None and c.pred_label]
    return f"c{key + 1} " + " ".join(labels)


def _frames(ca: ClusterScore | None, cb: ClusterScore | None) -> tuple[CompareNode, ...]:
    frames_a = {f.frame: f for f in (ca.frames if ca else ())}
    frames_b = {f.frame: f for f in (cb.frames if cb else ())}
    out = []
    for number in sorted(set(frames_a) | set(frames_b)):
        fa, fb = frames_a.get(number), frames_b.get(number)
        out.append(CompareNode(_frame_name(number, fa or fb), Side(score=fa.score if fa else None),
                               Side(score=fb.score if fb else None), _instances(fa, fb)))
    return tuple(out)


def _frame_name(number: int, frame: FrameScore) -> str:
    if number < 0:
        return "timeline"
    when = f" {frame.timestamp:.2f}s" if frame.timestamp is not None else " no GT"
    return f"F{number + 1}{when}"


def _instances(fa: FrameScore | None, fb: FrameScore | None) -> tuple[CompareNode, ...]:
    by_gt_a = _by_gt(fa)
    by_gt_b = _by_gt(fb)
    rows = [CompareNode(f"g{g + 1}", _side(by_gt_a.get(g), "p"), _side(by_gt_b.get(g), "p"))
            for g in sorted(set(by_gt_a) | set(by_gt_b))]
    for tag, frame in (("A", fa), ("B", fb)):
        for m in (frame.matches if frame else ()):
            if m.gt is None and m.pred is not None:
                side = Side(m.iou, m.kind, None, m.pred)
                rows.append(CompareNode(f"{tag} p{m.pred + 1}", side if tag == "A" else Side(),
                                        side if tag == "B" else Side()))
    return tuple(rows)


def _by_gt(frame: FrameScore | None) -> dict[int, InstanceMatch]:
    return {m.gt: m for m in (frame.matches if frame else ()) if m.gt is not None}


def _side(match: InstanceMatch | None, _prefix: str) -> Side:
    return Side(match.iou, match.kind, None, match.pred) if match is not None else Side()
