"""Which training snapshot ships: the issue's floors and the margin by which scores clear them."""

from __future__ import annotations

import pytest

from ponder.train.floors import DEEP_FLOOR, FAST_EASY_FLOOR, floor, margin


def test_every_deep_cell_and_only_the_easiest_fast_cells_have_a_floor() -> None:
    assert floor("ledger3-deep") == DEEP_FLOOR == 0.95
    assert floor("arith1-deep") == DEEP_FLOOR
    assert floor("arith1-fast") == FAST_EASY_FLOOR
    assert floor("ledger1-fast") == FAST_EASY_FLOOR
    # fast on harder levels is meant to be worse: no floor to clear
    assert floor("arith4-fast") is None
    assert floor("ledger2-fast") is None


def test_margin_is_the_weakest_floored_cell_measured_against_its_own_floor() -> None:
    scores = {
        "arith1-deep": 1.0,
        "arith1-fast": 0.90,  # 0.05 above its 0.85
        "arith4-deep": 0.97,  # 0.02 above 0.95: the weakest
        "arith4-fast": 0.0,  # no floor, ignored
        "ledger3-deep": 0.99,
    }
    value, cell = margin(scores)
    assert cell == "arith4-deep"
    assert value == pytest.approx(0.02)

    scores["arith1-fast"] = 0.40
    value, cell = margin(scores)
    assert (cell, round(value, 6)) == ("arith1-fast", -0.45)


def test_margin_refuses_scores_without_any_floored_cell() -> None:
    with pytest.raises(ValueError, match="no cell with a floor"):
        margin({"arith4-fast": 0.0})
