"""Benchmark items from plans: question text, exact clues and the answer they imply.

Times are frame boundaries (events) or frame centres (boxes), so the frame a
player shows at a clue time is the frame the clue was read from.
"""

from __future__ import annotations

from engine.synth.scene import Scene
from engine.synth.timeline import Instance, Plan

TIME_DIGITS = 4


def seconds(frames: float, fps: float) -> float:
    return round(frames / fps, TIME_DIGITS)


def _box(scene: Scene, instance: Instance) -> dict:
    sid, frame = instance
    shape = next(s for s in scene.shapes if s.sid == sid)
    return {"timestamp": seconds(frame + 0.5, scene.fps), "bbox": shape.bbox(frame)}


def _clue(scene: Scene, plan: Plan) -> list:
    if plan.category == "event":
        return [{"start": seconds(a, scene.fps), "end": seconds(b, scene.fps)} for a, b in plan.events]
    if plan.category == "object":
        return [_box(scene, instance) for instance in plan.boxes]
    return [[_box(scene, instance) for instance in cluster] for cluster in plan.clusters]


def plan_to_item(scene: Scene, plan: Plan, index: int) -> dict:
    """One item in the benchmark's own schema, plus `modality` and `target` (what is counted)."""
    clue = _clue(scene, plan)
    return {
        "index": index,
        "video": f"{scene.name}.mp4",
        "question_en": plan.question,
        "answer": len(clue),
        "category": plan.category,
        "clue": clue,
        "query_interval": [seconds(plan.interval[0], scene.fps), seconds(plan.interval[1], scene.fps)],
        "modality": plan.modality,
        "target": plan.target,
        "duration": seconds(scene.frames, scene.fps),
    }
