"""The bench's token economics, asserted exactly: what each chain cost and generated, the cost
fields of a summary, expected cost-to-correct and every break-even-in-dollars case. Prices are
binary fractions (0.25, 0.5, ...) so sums are exact in floating point."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.bench.records import AttemptRecord, VerdictRecord
from ponder.bench.stats import (
    ChainResult,
    Summary,
    break_even_usd,
    break_evens_usd,
    reduce_chains,
    summarize,
)


def attempt(
    task: str, n: int, ok: bool, cost: float | None, *, thinking: int = 0, answer: int = 0,
    extra: dict[str, Any] | None = None,
) -> AttemptRecord:
    meter: dict[str, Any] = {
        "e2e_ms": 100.0, "ttfa_ms": 10.0, "thinking_tokens": thinking, "answer_tokens": answer,
    }
    return AttemptRecord(
        suite="s", task_id=task, family="f", level=1, template="t", seed=0, prompt="p",
        model="m", mode="m", attempt=n, k=3, retry_policy="feedback", feedback=None,
        verdict=VerdictRecord(ok, "r"), thinking="", answer="a", meter=meter, verify_ms=0.0,
        started_at="2026-01-01T00:00:00Z", cost_usd=cost, extra=extra or {},
    )


def test_a_chain_costs_and_generates_until_its_first_accepted_attempt() -> None:
    records = [
        attempt("a", 1, False, 0.25, thinking=3, answer=4,
                extra={"cancelled_tokens": {"fast": 2, "deep": 1}, "served_by": "fast"}),
        attempt("a", 2, True, 0.5, thinking=5, answer=6,
                extra={"unserved_tokens": 7, "served_by": "deep"}),
        # After the accepted attempt: in the per-attempt costs, in nothing else.
        attempt("a", 3, True, 1.0, thinking=100, answer=100,
                extra={"cancelled_tokens": {"fast": 50}, "served_by": "fast"}),
    ]
    (a,) = reduce_chains(records)
    assert a == ChainResult(
        key=("s", "a", 0, "m"), suite="s", family="f", level=1, model="m", mode="m",
        policy="feedback", k=3, attempts=3, correct=2, first_ok=2, spent_ms=200.0,
        ttfa_ms=(10.0, 10.0, 10.0), first_e2e_ms=100.0, cost_usd=0.75,
        attempt_costs=(0.25, 0.5, 1.0), tokens=3 + 4 + 5 + 6 + 7, cancelled_tokens=3,
        served_by=("fast", "deep"),
    )


def test_an_unpriced_attempt_makes_the_chain_cost_unknown() -> None:
    unsolved = [attempt("b", 1, False, None), attempt("b", 2, False, 0.5)]
    priced_first = [attempt("c", 1, False, 0.5), attempt("c", 2, False, None)]
    never = [attempt("d", 1, False, 0.25), attempt("d", 2, False, 0.5)]
    b, c, d = reduce_chains([*unsolved, *priced_first, *never])
    assert (b.cost_usd, b.attempt_costs, b.first_ok) == (None, (None, 0.5), None)
    assert (c.cost_usd, c.attempt_costs) == (None, (0.5, None))
    assert (d.cost_usd, d.attempt_costs, d.served_by, d.tokens) == (0.75, (0.25, 0.5), (), 0)
    # An unpriced attempt after the accepted one leaves the chain's cost known.
    (e,) = reduce_chains([attempt("e", 1, True, 0.25), attempt("e", 2, True, None)])
    assert (e.cost_usd, e.attempt_costs) == (0.25, (0.25, None))


def chain(
    cost: float | None, solved: bool, attempt_costs: tuple[float | None, ...], *,
    tokens: int = 0, cancelled: int = 0, served_by: tuple[str, ...] = (),
) -> ChainResult:
    return ChainResult(
        key=("s", f"t{cost}{solved}{attempt_costs}", 1, "m"), suite="s", family="f", level=1,
        model="m", mode="m", policy="feedback", k=2, attempts=len(attempt_costs) or 1,
        correct=int(solved), first_ok=1 if solved else None, spent_ms=1000.0, ttfa_ms=(),
        first_e2e_ms=1000.0, cost_usd=cost, attempt_costs=attempt_costs, tokens=tokens,
        cancelled_tokens=cancelled, served_by=served_by,
    )


def test_a_priced_summary_exactly() -> None:
    chains = [
        chain(0.25, True, (0.25,), tokens=10, cancelled=4, served_by=("fast",)),
        chain(1.0, False, (0.5, 0.5), tokens=20, served_by=("deep", "fast", "fast")),
        chain(0.75, True, (0.25, 0.5), tokens=30, cancelled=2),
    ]
    s = summarize(chains, "m", "s", "1")
    assert s == Summary(
        model="m", mode="m", suite="s", level="1", tasks=3, attempts=5, k=2,
        policy="feedback", pass_at_1=2 / 3, pass_at_k=2 / 3, solved=2 / 3,
        ttfa_p50_ms=None, ttfa_p90_ms=None, first_e2e_mean_ms=1000.0, spent_mean_ms=1000.0,
        ttc_p50_ms=1000.0, ttc_p90_ms=None,
        cost_per_attempt_usd=2.0 / 5, cost_per_task_usd=2.0 / 3, cost_per_correct_usd=1.0,
        tokens_mean=20.0, cancelled_tokens_mean=2.0,
        served_by=(("deep", 0.25), ("fast", 0.75)),
    )


def test_summary_cost_fields_when_something_is_unpriced_or_nothing_correct() -> None:
    # One attempt unpriced after the accepted one: the chains are priced, the attempts not.
    some = summarize([chain(0.5, True, (0.5, None)), chain(0.25, True, (0.25,))], "m", "s", "1")
    assert (some.cost_per_attempt_usd, some.cost_per_task_usd, some.cost_per_correct_usd) == (
        None, 0.375, 0.375,
    )
    # A chain of unknown cost: no per-task or per-correct figure.
    unknown = summarize([chain(None, True, (None,)), chain(0.5, True, (0.5,))], "m", "s", "1")
    assert (unknown.cost_per_attempt_usd, unknown.cost_per_task_usd) == (None, None)
    assert unknown.cost_per_correct_usd is None
    # Nothing correct: a cost per task, none per correct answer.
    wrong = summarize([chain(0.5, False, (0.25, 0.25)), chain(1.0, False, (1.0,))], "m", "s", "1")
    assert (wrong.cost_per_attempt_usd, wrong.cost_per_task_usd) == (0.5, 0.75)
    assert wrong.cost_per_correct_usd is None
    # No per-attempt costs recorded at all: unknown, not zero.
    bare = summarize([chain(0.5, True, ())], "m", "s", "1")
    assert (bare.cost_per_attempt_usd, bare.cost_per_task_usd) == (None, 0.5)
    assert bare.cost_per_correct_usd == 0.5
    assert (bare.tokens_mean, bare.cancelled_tokens_mean, bare.served_by) == (0.0, 0.0, ())


def priced(model: str, cost: float | None, solved: float) -> Summary:
    return Summary(
        model=model, mode=model, suite="all", level="all", tasks=4, attempts=4, k=1,
        policy="feedback", pass_at_1=solved, pass_at_k=solved, solved=solved,
        ttfa_p50_ms=None, ttfa_p90_ms=None, first_e2e_mean_ms=1.0, spent_mean_ms=1.0,
        ttc_p50_ms=None, ttc_p90_ms=None, cost_per_task_usd=cost,
    )


def test_expected_cost_to_correct() -> None:
    assert priced("m", 0.5, 0.75).expected_cost_usd(2.0) == 0.5 + 0.25 * 2.0
    assert priced("m", 0.5, 1.0).expected_cost_usd(2.0) == 0.5
    assert priced("m", 0.0, 0.5).expected_cost_usd(4.0) == 2.0
    assert priced("m", None, 0.5).expected_cost_usd(4.0) is None


@pytest.mark.parametrize(
    ("cheap", "dear", "expected"),
    [
        ((0.5, 0.5), (1.5, 0.75), 4.0),  # 1 $ more for 0.25 more accuracy
        ((1.0, 0.5), (0.5, 0.75), 0.0),  # cheaper and better: worth it at any D$
        ((1.0, 0.5), (0.5, 0.5), 0.0),  # cheaper and as good
        ((0.5, 0.5), (0.5, 0.5), None),  # the same: never strictly better
        ((0.5, 0.75), (1.0, 0.75), None),  # dearer and as good
        ((0.5, 0.75), (1.0, 0.5), None),  # dearer and worse
        ((1.0, 0.75), (0.5, 0.5), None),  # cheaper but worse: never better when D$ > 0
        ((None, 0.5), (1.0, 0.75), None),  # unpriced: no figure
        ((0.5, 0.5), (None, 0.75), None),
    ],
)
def test_break_even_usd_cases(
    cheap: tuple[float | None, float], dear: tuple[float | None, float], expected: float | None
) -> None:
    assert break_even_usd(priced("a", *cheap), priced("b", *dear)) == expected


def test_break_evens_usd_are_against_the_cheapest_priced_model() -> None:
    rows = [
        priced("deep", 1.5, 0.75), priced("cheap", 0.5, 0.5), priced("free", None, 1.0),
        priced("mid", 1.0, 0.5),
    ]
    assert break_evens_usd(rows) == {"deep": 4.0, "mid": None}
    # A price of zero is the cheapest, not an unknown one.
    zero = [priced("paid", 0.5, 0.75), priced("gratis", 0.0, 0.5)]
    assert break_evens_usd(zero) == {"paid": 2.0}
    assert break_evens_usd([]) == {}
    assert break_evens_usd([priced("x", None, 1.0), priced("y", None, 0.5)]) == {}
    assert break_evens_usd([priced("only", 0.25, 1.0)]) == {}


def test_summarize_refuses_no_chains_in_these_words() -> None:
    with pytest.raises(ValueError, match=r"^summarize needs at least one chain$"):
        summarize([], "m", "all", "all")
