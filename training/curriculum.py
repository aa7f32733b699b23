"""Which samples a stage trains on: its own tasks, plus a review share drawn from earlier curriculum stages.

Stage review (the paper's SRM): in a GRPO stage after the first, `review_share` (default 0.2) of the
stage's samples come from the tasks of earlier GRPO stages that this stage does not train itself,
so earlier skills are not forgotten. With n own samples the review adds round(n * s / (1 - s)), so
review / (own + review) = s (fewer if the earlier stages have fewer samples). SFT stages are not
curriculum stages and are never reviewed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from training.config import StageSettings
from training.data import TrainSample


@dataclass(frozen=True)
class StageData:
    own: tuple[TrainSample, ...]
    review: tuple[TrainSample, ...]

    @property
    def samples(self) -> list[TrainSample]:
        return [*self.own, *self.review]

    @property
    def review_fraction(self) -> float:
        total = len(self.own) + len(self.review)
        return len(self.review) / total if total else 0.0


def review_tasks(stages: Sequence[StageSettings], index: int) -> list[str]:
    """Tasks of earlier GRPO stages that stage `index` does not train itself, in curriculum order."""
    own = set(stages[index].tasks)
    seen: list[str] = []
    for earlier in stages[:index]:
        if earlier.kind == "grpo":
            seen += [t for t in earlier.tasks if t not in own and t not in seen]
    return seen


def review_count(n_own: int, share: float) -> int:
    """Review samples to add to n_own so they make `share` of the stage.

    >>> review_count(80, 0.2), review_count(10, 0.0), review_count(3, 0.5)
    (20, 0, 3)
    """
    if share <= 0 or n_own == 0:
        return 0
    return round(n_own * share / (1 - share))


def stage_data(stages: Sequence[StageSettings], index: int, pool: Sequence[TrainSample], seed: int) -> StageData:
    """The stage's own samples (its tasks, at most max_samples, seeded order) and its review draw."""
    stage = stages[index]
    rng = random.Random(f"{seed}:{stage.name}")
    own = [s for s in pool if s.task in stage.tasks]
    rng.shuffle(own)
    if stage.max_samples is not None:
        own = own[: stage.max_samples]
    earlier = set(review_tasks(stages, index)) if stage.kind == "grpo" else set()
    candidates = [s for s in pool if s.task in earlier]
    wanted = min(review_count(len(own), stage.review_share), len(candidates))
    review = rng.sample(candidates, wanted) if wanted else []
    return StageData(tuple(own), tuple(review))
