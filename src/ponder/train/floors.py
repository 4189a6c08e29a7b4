"""The issue's quality floors, and how close a set of per-cell scores comes to them.

A *cell* is one family, level and mode, named as the training evals name it
(``"ledger2-deep"``); a score is the share of held-out problems answered exactly. Training
uses this to choose which late snapshot ships (:func:`ponder.train.run.select`); it needs no
torch, so the test suite checks it directly.
"""

from __future__ import annotations

DEEP_FLOOR = 0.95
"""Deep must be right this often at every level."""

FAST_EASY_FLOOR = 0.85
"""Fast must be "high" on the easiest level of each family: that is where answering at once
pays, and where the router sends easy questions."""


def floor(cell: str) -> float | None:
    """The floor a cell must clear, or None where the issue sets none (fast above level 1)."""
    if cell.endswith("-deep"):
        return DEEP_FLOOR
    if cell.endswith("1-fast"):
        return FAST_EASY_FLOOR
    return None


def margin(scores: dict[str, float]) -> tuple[float, str]:
    """How far the weakest floored cell is above its floor (negative: below), and which cell."""
    margins = {c: v - f for c, v in scores.items() if (f := floor(c)) is not None}
    if not margins:
        raise ValueError(f"no cell with a floor among {sorted(scores)}")
    worst = min(margins, key=lambda c: margins[c])
    return margins[worst], worst
