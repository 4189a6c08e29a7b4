"""pass@k, censored time-to-correct, expected time-to-correct and the break-even D."""

from __future__ import annotations

import math

import pytest

from ponder.bench.stats import (
    ChainResult,
    Summary,
    break_even_s,
    pass_at_k,
    summarize,
    ttc_cdf,
    ttc_quantile,
)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 0, 1, 0.0),
        (5, 5, 3, 1.0),
        (5, 2, 1, 0.4),
        (10, 3, 3, 1 - math.comb(7, 3) / math.comb(10, 3)),  # 0.7083...
        (4, 1, 4, 1.0),  # n - c < k: some k-subset always holds the correct one
        (3, 1, 2, 1 - math.comb(2, 2) / math.comb(3, 2)),
    ],
)
def test_pass_at_k_matches_the_combinatorial_definition(
    n: int, c: int, k: int, expected: float
) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_rejects_impossible_inputs() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_ttc_cdf_without_censoring_is_the_empirical_cdf() -> None:
    points = ttc_cdf([(1.0, True), (2.0, True), (3.0, True), (4.0, True)])
    assert points == [(1.0, 0.25), (2.0, 0.5), (3.0, 0.75), (4.0, 1.0)]


def test_censored_tasks_stay_in_the_denominator_and_never_count() -> None:
    # a task that failed k times quickly (0.5 s) must not inflate the solved share
    points = ttc_cdf([(0.5, False), (1.0, True), (2.0, True), (10.0, False)])
    assert points == [(1.0, 0.25), (2.0, 0.5)]


def test_median_time_to_correct_is_censored_when_most_never_pass() -> None:
    assert ttc_quantile([(1.0, True), (0.2, False), (6.0, False)], 0.5) is None
    assert ttc_quantile([(1.0, True), (3.0, True), (0.1, False)], 0.5) == 3.0
    assert ttc_quantile([(1.0, True), (1.0, True), (5.0, False), (9.0, False)], 0.5) == 1.0


def chain(
    model: str, spent_ms: float, first_ok: int | None, attempts: int, k: int = 3
) -> ChainResult:
    return ChainResult(
        key=("s", f"t{spent_ms}", 0, model),
        suite="s",
        family="f",
        level=1,
        model=model,
        mode="fast" if model == "fast" else "deep",
        policy="feedback",
        k=k,
        attempts=attempts,
        correct=int(first_ok is not None),
        first_ok=first_ok,
        spent_ms=spent_ms,
        ttfa_ms=(100.0,) * attempts,
        first_e2e_ms=spent_ms / attempts,
    )


def test_summary_pass_rates_and_expected_time_to_correct() -> None:
    chains = [
        chain("fast", 1000, 1, 1),
        chain("fast", 3000, 2, 2),
        chain("fast", 3000, None, 3),
        chain("fast", 3000, None, 3),
    ]
    s = summarize(chains, "fast", "all", "all")
    assert s.pass_at_1 == 0.25
    assert s.pass_at_k == 0.5
    assert s.ttc_p50_ms == 3000  # half the tasks were correct by t = 3 s
    assert s.spent_mean_ms == 2500
    d = 600.0
    assert s.expected_ttc_s(d) == pytest.approx(2.5 + 0.5 * d)
    assert s.expected_ttc_1shot_s(d) == pytest.approx(s.first_e2e_mean_ms / 1000 + 0.75 * d)


def summary(model: str, spent_s: float, solved: float) -> Summary:
    return Summary(
        model=model,
        mode=model,
        suite="all",
        level="all",
        tasks=10,
        attempts=10,
        k=1,
        policy="feedback",
        pass_at_1=solved,
        pass_at_k=solved,
        solved=solved,
        ttfa_p50_ms=None,
        ttfa_p90_ms=None,
        first_e2e_mean_ms=spent_s * 1000,
        spent_mean_ms=spent_s * 1000,
        ttc_p50_ms=None,
        ttc_p90_ms=None,
    )


def test_break_even_is_where_the_expected_lines_cross() -> None:
    fast, deep = summary("fast", 1.0, 0.5), summary("deep", 11.0, 0.9)
    d = break_even_s(fast, deep)
    assert d == pytest.approx(25.0)  # 10 s more for 0.4 more accuracy
    assert d is not None
    assert fast.expected_ttc_s(d) == pytest.approx(deep.expected_ttc_s(d))
    assert deep.expected_ttc_s(d + 1) < fast.expected_ttc_s(d + 1)


def test_a_slower_model_that_is_no_more_accurate_never_wins() -> None:
    assert break_even_s(summary("fast", 1.0, 0.9), summary("deep", 5.0, 0.8)) is None
    assert break_even_s(summary("fast", 1.0, 0.9), summary("deep", 5.0, 0.9)) is None
