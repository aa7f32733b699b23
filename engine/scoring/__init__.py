"""CG-AV-Counting scoring: official parity (METRICS.md) plus per-instance breakdowns."""

from engine.results import ClueReport, ClueScore, CountScore, LongReport, ParsedClue
from engine.scoring.aggregate import (
    GroupStats,
    clue_report,
    evaluate_clue,
    evaluate_long,
    group_stats,
    group_stats_by,
    long_report,
)
from engine.scoring.blackbox import score_count
from engine.scoring.evaluate import Evaluation, evaluate_set
from engine.scoring.geometry import box_iou, count_penalty, interval_iou
from engine.scoring.whitebox import (
    greedy_match,
    gt_frame_times,
    gt_frames_by_cluster,
    score_clue,
    score_parsed,
)

__all__ = [
    "ClueReport", "ClueScore", "CountScore", "Evaluation", "GroupStats", "LongReport", "ParsedClue",
    "box_iou", "clue_report", "count_penalty", "evaluate_clue", "evaluate_long", "evaluate_set",
    "greedy_match", "group_stats", "group_stats_by", "gt_frame_times", "gt_frames_by_cluster", "interval_iou", "long_report", "score_clue",
    "score_count", "score_parsed",
]
