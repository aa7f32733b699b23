"""Black-box score of one item (long and ref protocols)."""

from __future__ import annotations

from engine.benchmark import Item
from engine.parsing import parse_count
from engine.results import CountScore, Mode


def score_count(item: Item, pred_text: str, gt: int | None = None, mode: Mode = "official") -> CountScore:
    """Parse a count and compute its error terms; a failed parse counts as 0, as the scripts do."""
    truth = item.answer if gt is None else gt
    parsed = parse_count(pred_text, mode)
    count = parsed.value if parsed.ok else 0
    d = abs(truth - count)
    cap = max(2 * truth, 100)
    mae_term, mse_term = (d, d * d) if d <= cap else (2 * truth, (2 * truth) ** 2)
    return CountScore(item.index, item.category, truth, parsed.value, parsed.reason, d, mae_term, mse_term)
