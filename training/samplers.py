"""Full-task sampling balanced over tasks and over difficulty (the filter's pass rate, bucketed).

The training order cycles through the tasks in turn and, within a task, through its difficulty
buckets in turn; within a (task, bucket) group samples come in a seeded shuffled order, reshuffled
when the group runs out. So every task gets the same share of the steps and, within a task, every
difficulty level the same share, whatever their sizes in the data. trl then reads the order as
given (shuffle_dataset off).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from training.data import TrainSample


def difficulty_bucket(pass_rate: float | None, buckets: int) -> int:
    """0 = hardest (lowest pass rate) .. buckets-1 = easiest; unknown difficulty goes to bucket 0.

    >>> [difficulty_bucket(p, 3) for p in (0.0, 0.34, 0.5, 0.99, 1.0, None)]
    [0, 1, 1, 2, 2, 0]
    """
    if pass_rate is None:
        return 0
    return min(int(pass_rate * buckets), buckets - 1)


def balanced_order(samples: Sequence[TrainSample], pass_rates: Mapping[str, float], buckets: int, length: int,
                   seed: int) -> list[TrainSample]:
    """`length` samples: task after task, bucket after bucket within a task (see the module doc)."""
    if not samples or length <= 0:
        return []
    rng = random.Random(seed)
    groups: dict[str, dict[int, list[TrainSample]]] = {}
    for s in samples:
        groups.setdefault(s.task, {}).setdefault(difficulty_bucket(pass_rates.get(s.id), buckets), []).append(s)
    tasks = sorted(groups)
    queues: dict[tuple[str, int], list[TrainSample]] = {}
    next_bucket = {task: 0 for task in tasks}
    order: list[TrainSample] = []
    while len(order) < length:
        task = tasks[len(order) % len(tasks)]
        levels = sorted(groups[task])
        level = levels[next_bucket[task] % len(levels)]
        next_bucket[task] += 1
        queue = queues.setdefault((task, level), [])
        if not queue:
            queue.extend(rng.sample(groups[task][level], len(groups[task][level])))
        order.append(queue.pop())
    return order
