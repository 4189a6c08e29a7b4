"""Bench statistics on hand-made attempt logs, asserted exactly: chains reduced from attempt
records, whole summaries under both retry policies, the row orders, and every break-even case."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.bench.records import AttemptRecord, VerdictRecord
from ponder.bench.stats import (
    ChainResult,
    Summary,
    break_even_s,
    break_evens,
    by_level,
    fastest_model,
    headline,
    pass_at_k,
    reduce_chains,
    summarize,
    ttc_cdf,
    ttc_quantile,
)


def attempt(
    task: str, model: str, n: int, ok: bool, e2e: float, *, verify: float = 0.0,
    ttfa: float | None = 10.0, level: int = 1, suite: str = "arith", k: int = 3,
    mode: str | None = None, policy: str = "feedback",
) -> AttemptRecord:
    meter: dict[str, Any] = {"e2e_ms": e2e, "ttfa_ms": ttfa}
    return AttemptRecord(
        suite=suite, task_id=task, family="add", level=level, template="t", seed=0,
        prompt="p", model=model, mode=mode or model, attempt=n, k=k, retry_policy=policy,
        feedback=None, verdict=VerdictRecord(ok, "r"), thinking="", answer="a", meter=meter,
        verify_ms=verify, started_at="2026-01-01T00:00:00Z",
    )


def test_chains_stop_counting_at_the_first_accepted_attempt() -> None:
    records = [
        attempt("a", "deep", 2, True, 200.0, verify=5.0, ttfa=None),
        attempt("a", "deep", 1, False, 100.0, verify=1.0, ttfa=40.0),
        attempt("a", "deep", 3, True, 999.0, mode="fast"),
        attempt("b", "deep", 1, False, 50.0, k=2, mode="fast"),
        attempt("b", "deep", 2, False, 70.0, k=2),
    ]
    a, b = reduce_chains(records)
    assert a == ChainResult(
        key=("arith", "a", 0, "deep"), suite="arith", family="add", level=1, model="deep",
        mode="deep", policy="feedback", k=3, attempts=3, correct=2, first_ok=2,
        spent_ms=306.0, ttfa_ms=(40.0, 10.0), first_e2e_ms=100.0,
        attempt_costs=(None, None, None),  # no prices in these records
    )
    assert a.solved and a.ttc_ms == 306.0
    assert (b.first_ok, b.spent_ms, b.correct, b.k, b.attempts) == (None, 120.0, 0, 2, 2)
    assert not b.solved and b.ttc_ms is None
    assert b.mode == "fast"  # a tie goes to the mode seen first


def chain(model: str, spent: float, first_ok: int | None, attempts: int, correct: int,
          *, suite: str = "s", level: int = 1, policy: str = "feedback", k: int = 3,
          mode: str | None = None, ttfa: tuple[float, ...] = (100.0,)) -> ChainResult:
    return ChainResult(
        key=(suite, f"t{spent}{first_ok}", level, model), suite=suite, family="f", level=level,
        model=model, mode=mode or model, policy=policy, k=k, attempts=attempts,
        correct=correct, first_ok=first_ok, spent_ms=spent, ttfa_ms=ttfa,
        first_e2e_ms=spent / attempts,
    )


def test_a_feedback_summary_exactly() -> None:
    chains = [
        chain("deep", 1000, 1, 1, 1, ttfa=(10.0,)),
        chain("deep", 3000, 2, 2, 1, ttfa=(20.0, 30.0), mode="fast"),
        chain("deep", 6000, None, 3, 0, ttfa=(40.0,)),
    ]
    assert summarize(chains, "deep", "s", "1") == Summary(
        model="deep", mode="deep", suite="s", level="1", tasks=3, attempts=6, k=3,
        policy="feedback", pass_at_1=1 / 3, pass_at_k=2 / 3, solved=2 / 3,
        ttfa_p50_ms=25.0, ttfa_p90_ms=37.0, first_e2e_mean_ms=(1000 + 1500 + 2000) / 3,
        spent_mean_ms=10000 / 3, ttc_p50_ms=3000.0, ttc_p90_ms=None,
    )


def test_an_independent_summary_uses_the_unbiased_estimator() -> None:
    chains = [
        chain("m", 900, 2, 3, 1, policy="independent"),
        chain("m", 900, 1, 3, 3, policy="independent", k=2),
    ]
    s = summarize(chains, "m", "all", "all")
    assert s.k == 3 and s.policy == "independent"
    assert s.pass_at_1 == pytest.approx((pass_at_k(3, 1, 1) + pass_at_k(3, 3, 1)) / 2)
    assert s.pass_at_k == pytest.approx((pass_at_k(3, 1, 3) + 1.0) / 2)
    assert s.pass_at_1 == pytest.approx(2 / 3)
    short = summarize([chain("m", 5, None, 1, 0, policy="independent")], "m", "all", "all")
    assert (short.pass_at_1, short.pass_at_k, short.ttfa_p50_ms) == (0.0, 0.0, 100.0)


def test_summarize_needs_chains() -> None:
    with pytest.raises(ValueError, match="at least one chain"):
        summarize([], "m", "all", "all")


def test_expected_time_to_correct_in_both_forms() -> None:
    s = summarize([chain("m", 2000, 2, 2, 1), chain("m", 4000, None, 2, 0)], "m", "all", "all")
    assert s.expected_ttc_s(100.0) == pytest.approx(3.0 + 0.5 * 100.0)
    assert s.expected_ttc_1shot_s(100.0) == pytest.approx(1.5 + 1.0 * 100.0)


def test_pass_at_k_bounds_are_inclusive() -> None:
    assert pass_at_k(3, 0, 3) == 0.0
    assert pass_at_k(3, 3, 1) == 1.0
    assert pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(2, 1, 2) == 1.0
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    for bad in ((3, -1, 1), (3, 1, 0), (0, 0, 1)):
        with pytest.raises(ValueError, match=r"need 0 <= c <= n|need 1 <= k <= n"):
            pass_at_k(*bad)


def test_cdf_merges_ties_and_quantile_is_the_first_step_reaching_q() -> None:
    assert ttc_cdf([(2.0, True), (1.0, True), (2.0, True), (5.0, False)]) == [
        (1.0, 0.25), (2.0, 0.75),
    ]
    assert ttc_cdf([]) == []
    obs = [(1.0, True), (2.0, True), (3.0, True)]
    assert ttc_quantile(obs, 1 / 3) == 1.0
    assert ttc_quantile(obs, 0.34) == 2.0
    assert ttc_quantile(obs, 1.0) == 3.0
    assert ttc_quantile([], 0.5) is None


def test_headline_and_by_level_orders() -> None:
    chains = [
        chain("deep", 10, 1, 1, 1, suite="b", level=2),
        chain("fast", 1, 1, 1, 1, suite="b", level=2),
        chain("deep", 10, 1, 1, 1, suite="a", level=3),
        chain("fast", 1, None, 1, 0, suite="a", level=1),
        chain("other", 1, 1, 1, 1, suite="a", level=1),
    ]
    rows = headline(chains, ["fast", "deep", "missing"])
    assert [(r.model, r.suite, r.level, r.tasks) for r in rows] == [
        ("fast", "all", "all", 2), ("deep", "all", "all", 2),
    ]
    levels = by_level(chains, ["fast", "deep"])
    assert [(r.suite, r.level, r.model) for r in levels] == [
        ("a", "1", "fast"), ("a", "1", "other"), ("a", "3", "deep"),
        ("b", "2", "fast"), ("b", "2", "deep"),
    ]


def summary(model: str, spent_s: float, solved: float) -> Summary:
    return Summary(
        model=model, mode=model, suite="all", level="all", tasks=10, attempts=10, k=1,
        policy="feedback", pass_at_1=solved, pass_at_k=solved, solved=solved,
        ttfa_p50_ms=None, ttfa_p90_ms=None, first_e2e_mean_ms=spent_s * 1000,
        spent_mean_ms=spent_s * 1000, ttc_p50_ms=None, ttc_p90_ms=None,
    )


@pytest.mark.parametrize(
    ("fast", "slow", "expected"),
    [
        ((1.0, 0.5), (11.0, 0.9), 25.0),  # 10 s more for 0.4 more accuracy
        ((2.0, 0.5), (1.0, 0.9), 0.0),  # faster and better: worth it at any D
        ((2.0, 0.5), (1.0, 0.5), 0.0),  # faster and as good
        ((1.0, 0.5), (1.0, 0.5), None),  # the same: never strictly better
        ((1.0, 0.9), (5.0, 0.9), None),
        ((1.0, 0.9), (5.0, 0.8), None),
        ((1.0, 0.9), (0.5, 0.8), None),  # faster but worse: never better when D > 0
    ],
)
def test_break_even_cases(
    fast: tuple[float, float], slow: tuple[float, float], expected: float | None
) -> None:
    found = break_even_s(summary("a", *fast), summary("b", *slow))
    assert found == (pytest.approx(expected) if expected is not None else None)


def test_break_evens_are_against_the_fastest_model() -> None:
    rows = [summary("deep", 11.0, 0.9), summary("fast", 1.0, 0.5), summary("mid", 3.0, 0.5)]
    assert break_evens(rows) == {"deep": pytest.approx(25.0), "mid": None}
    assert fastest_model(rows) == "fast"
    assert break_evens([]) == {} and fastest_model([]) is None
    assert break_evens([summary("only", 1.0, 1.0)]) == {}


def test_time_to_correct_quantiles_when_most_tasks_pass() -> None:
    chains = [chain("m", float(t), 1, 1, 1) for t in (100, 200, 300, 400, 500, 600, 700, 800,
                                                       900, 1000)]
    s = summarize(chains, "m", "all", "all")
    assert (s.ttc_p50_ms, s.ttc_p90_ms) == (500.0, 900.0)
