"""Bench statistics: pass@k, censored time-to-correct, expected time-to-correct, break-even.

Definitions (DESIGN.md's metric table, applied to k attempts per task):

- **pass@1**: the share of tasks whose first attempt was accepted (``independent`` policy:
  the unbiased estimator with k=1, i.e. the mean share of accepted samples).
- **pass@k**: ``feedback`` policy: the share of tasks accepted within k attempts (observed
  directly). ``independent`` policy: the unbiased estimator of Chen et al. (2021),
  ``1 - C(n-c, k) / C(n, k)`` per task, averaged.
- **time-to-correct** of a task: the sum of its attempts' E2E and verification times up to and
  including the first accepted one. A task never accepted is *censored* at the attempt budget
  (its time-to-correct is beyond every observed one), so CDFs plateau at the solved share and
  a median is ``None`` (shown as "> k tries") when fewer than half the tasks were accepted.
- **expected time-to-correct** at a human fix-up cost D: ``T + (1 - p) * D``, with T the mean
  machine time spent per task (until accepted or out of attempts) and p the share accepted.
  With k = 1 this is exactly DESIGN.md's ``E2E + (1 - p) * D``.
- **break-even D** of a model against the fastest one (least T): the D above which it has
  the lower expected time-to-correct, ``(T_b - T_a) / (p_b - p_a)``; 0 when it is both faster
  and better, ``None`` when it is never better.
- **cost** (USD, at each model's price; unknown — ``None`` — when a model has none): per
  attempt (mean), per task until correct (the attempts' costs up to the accepted one, or all
  of them when none was), and **per correct answer**: everything spent on the model's tasks
  divided by the tasks it got right. **Expected cost-to-correct** at a fix-up cost D$:
  ``C + (1 - p) * D$`` with C the mean cost per task; its **break-even D$** against the
  cheapest model is ``(C_b - C_a) / (p_b - p_a)``, like the time form.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from ponder.bench.records import AttemptRecord
from ponder.bench.runner import ChainKey, group_chains
from ponder.meter import percentile

MS_PER_S = 1000.0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of P(at least one of k samples is correct) from n samples, c correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@dataclass(frozen=True, slots=True)
class ChainResult:
    """One (task, model) pair's attempts, reduced."""

    key: ChainKey
    suite: str
    family: str
    level: int
    model: str
    mode: str
    policy: str
    k: int
    attempts: int
    correct: int
    first_ok: int | None  # 1-based attempt of the first accepted answer
    spent_ms: float  # machine time until accepted (or over all attempts when never)
    ttfa_ms: tuple[float, ...]
    first_e2e_ms: float
    # USD until accepted (all attempts when never); None when an attempt had no price.
    cost_usd: float | None = None
    attempt_costs: tuple[float | None, ...] = ()
    tokens: int = 0  # generated until accepted (or over all attempts), a hedge's loser included
    cancelled_tokens: int = 0  # of which the losing side of a hedge
    served_by: tuple[str, ...] = ()  # per attempt, when a wrapper said which model answered

    @property
    def solved(self) -> bool:
        return self.first_ok is not None

    @property
    def ttc_ms(self) -> float | None:
        return self.spent_ms if self.solved else None


def reduce_chains(records: Iterable[AttemptRecord]) -> list[ChainResult]:
    results: list[ChainResult] = []
    for key, chain in group_chains(list(records)).items():
        first = chain[0]
        first_ok: int | None = None
        spent = 0.0
        cost: float | None = 0.0
        tokens = cancelled = 0
        served: list[str] = []
        for record in chain:
            spent += record.e2e_ms + record.verify_ms
            cost = None if cost is None or record.cost_usd is None else cost + record.cost_usd
            tokens += record.tokens_spent
            cancelled += record.cancelled_tokens
            if record.served_by is not None:
                served.append(record.served_by)
            if record.verdict.ok:
                first_ok = record.attempt
                break
        modes = Counter(r.mode for r in chain)
        results.append(
            ChainResult(
                key=key,
                suite=first.suite,
                family=first.family,
                level=first.level,
                model=first.model,
                mode=modes.most_common(1)[0][0],
                policy=first.retry_policy,
                k=max(r.k for r in chain),
                attempts=len(chain),
                correct=sum(r.verdict.ok for r in chain),
                first_ok=first_ok,
                spent_ms=spent,
                ttfa_ms=tuple(r.ttfa_ms for r in chain if r.ttfa_ms is not None),
                first_e2e_ms=first.e2e_ms,
                cost_usd=cost,
                attempt_costs=tuple(r.cost_usd for r in chain),
                tokens=tokens,
                cancelled_tokens=cancelled,
                served_by=tuple(served),
            )
        )
    return results


def ttc_cdf(observations: Sequence[tuple[float, bool]]) -> list[tuple[float, float]]:
    """CDF steps ``(t, share of all tasks correct by t)`` from ``(time, solved)`` pairs.

    A task never solved is censored *at the attempt budget*, i.e. after every solve: it stays
    in the denominator and never counts as correct, so the curve plateaus at the solved share.
    (Kaplan-Meier on wall time would drop a task that failed k times quickly from the risk set
    early and overstate the solved share; failing within budget is not "lost to follow-up".)
    """
    total = len(observations)
    solved = sorted(t for t, ok in observations if ok)
    points: list[tuple[float, float]] = []
    for i, time_ in enumerate(solved, 1):
        if points and points[-1][0] == time_:
            points[-1] = (time_, i / total)
        else:
            points.append((time_, i / total))
    return points


def ttc_quantile(observations: Sequence[tuple[float, bool]], q: float) -> float | None:
    """The smallest t with at least a share ``q`` of tasks correct by t; None when fewer were
    ever correct (the quantile lies beyond the attempt budget: "> k tries")."""
    for time_, cdf in ttc_cdf(observations):
        if cdf >= q - 1e-12:
            return time_
    return None


@dataclass(frozen=True, slots=True)
class Summary:
    """One row of the summary: a model, optionally narrowed to a suite and level."""

    model: str
    mode: str
    suite: str  # "all" for every suite
    level: str  # "all" or the level number
    tasks: int
    attempts: int
    k: int
    policy: str
    pass_at_1: float
    pass_at_k: float
    solved: float
    ttfa_p50_ms: float | None
    ttfa_p90_ms: float | None
    first_e2e_mean_ms: float
    spent_mean_ms: float
    ttc_p50_ms: float | None
    ttc_p90_ms: float | None
    cost_per_attempt_usd: float | None = None
    cost_per_task_usd: float | None = None
    cost_per_correct_usd: float | None = None  # None also when nothing was correct
    tokens_mean: float = 0.0  # tokens generated per task, a hedge's cancelled side included
    cancelled_tokens_mean: float = 0.0
    # Share of attempts each model served, when a wrapper (the hedge) said: (model, share).
    served_by: tuple[tuple[str, float], ...] = ()

    def expected_cost_usd(self, d_usd: float) -> float | None:
        """Expected cost-to-correct in USD when a wrong answer costs ``d_usd`` to fix."""
        if self.cost_per_task_usd is None:
            return None
        return self.cost_per_task_usd + (1.0 - self.solved) * d_usd

    def expected_ttc_s(self, d_s: float) -> float:
        """Expected time-to-correct in seconds when a wrong answer costs ``d_s`` seconds."""
        return self.spent_mean_ms / MS_PER_S + (1.0 - self.solved) * d_s

    def expected_ttc_1shot_s(self, d_s: float) -> float:
        """DESIGN.md's single-attempt form: first-attempt E2E + (1 - pass@1) * D."""
        return self.first_e2e_mean_ms / MS_PER_S + (1.0 - self.pass_at_1) * d_s


def summarize(chains: Sequence[ChainResult], model: str, suite: str, level: str) -> Summary:
    if not chains:
        raise ValueError("summarize needs at least one chain")
    k = max(c.k for c in chains)
    policy = chains[0].policy
    if policy == "independent":
        p1 = _mean([pass_at_k(c.attempts, c.correct, 1) for c in chains])
        pk = _mean([pass_at_k(c.attempts, c.correct, min(k, c.attempts)) for c in chains])
    else:
        p1 = _mean([1.0 if c.first_ok == 1 else 0.0 for c in chains])
        pk = _mean([1.0 if c.solved else 0.0 for c in chains])
    ttfa = [t for c in chains for t in c.ttfa_ms]
    observations = [(c.spent_ms, c.solved) for c in chains]
    chain_costs = [c.cost_usd for c in chains]
    attempt_costs = [a for c in chains for a in c.attempt_costs]
    priced = all(x is not None for x in chain_costs)
    solved = sum(1 for c in chains if c.solved)
    return Summary(
        model=model,
        mode=Counter(c.mode for c in chains).most_common(1)[0][0],
        suite=suite,
        level=level,
        tasks=len(chains),
        attempts=sum(c.attempts for c in chains),
        k=k,
        policy=policy,
        pass_at_1=p1,
        pass_at_k=pk,
        solved=_mean([1.0 if c.solved else 0.0 for c in chains]),
        ttfa_p50_ms=percentile(ttfa, 50),
        ttfa_p90_ms=percentile(ttfa, 90),
        first_e2e_mean_ms=_mean([c.first_e2e_ms for c in chains]),
        spent_mean_ms=_mean([c.spent_ms for c in chains]),
        ttc_p50_ms=ttc_quantile(observations, 0.5),
        ttc_p90_ms=ttc_quantile(observations, 0.9),
        cost_per_attempt_usd=(
            _mean([a for a in attempt_costs if a is not None])
            if attempt_costs and all(a is not None for a in attempt_costs)
            else None
        ),
        cost_per_task_usd=_mean([x for x in chain_costs if x is not None]) if priced else None,
        cost_per_correct_usd=(
            sum(x for x in chain_costs if x is not None) / solved if priced and solved else None
        ),
        tokens_mean=_mean([float(c.tokens) for c in chains]),
        cancelled_tokens_mean=_mean([float(c.cancelled_tokens) for c in chains]),
        served_by=_shares([name for c in chains for name in c.served_by]),
    )


def _shares(names: Sequence[str]) -> tuple[tuple[str, float], ...]:
    counts = Counter(names)
    return tuple((name, n / len(names)) for name, n in sorted(counts.items()))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _grouped(
    chains: Iterable[ChainResult], key: Callable[[ChainResult], Hashable]
) -> dict[Hashable, list[ChainResult]]:
    groups: dict[Hashable, list[ChainResult]] = defaultdict(list)
    for chain in chains:
        groups[key(chain)].append(chain)
    return groups


def headline(chains: Sequence[ChainResult], models: Sequence[str]) -> list[Summary]:
    """One summary per model over every task, in ``models`` order."""
    groups = _grouped(chains, lambda c: c.model)
    return [summarize(groups[m], m, "all", "all") for m in models if groups.get(m)]


def by_level(chains: Sequence[ChainResult], models: Sequence[str]) -> list[Summary]:
    """One summary per (model, suite, level), ordered by suite, level, then ``models``."""
    groups = _grouped(chains, lambda c: (c.suite, c.level, c.model))
    order = {m: i for i, m in enumerate(models)}
    rows: list[Summary] = []
    for suite, level, model in sorted(
        (k for k in groups if isinstance(k, tuple)),
        key=lambda k: (k[0], k[1], order.get(k[2], len(order))),
    ):
        rows.append(summarize(groups[(suite, level, model)], model, suite, str(level)))
    return rows


def break_even_s(fast: Summary, slow: Summary) -> float | None:
    """The D (seconds) above which ``slow`` beats ``fast`` on expected time-to-correct."""
    extra_time = slow.spent_mean_ms / MS_PER_S - fast.spent_mean_ms / MS_PER_S
    extra_accuracy = slow.solved - fast.solved
    if extra_accuracy <= 0:
        return 0.0 if (extra_time < 0 and extra_accuracy == 0) else None
    return max(0.0, extra_time / extra_accuracy)


def break_evens(rows: Sequence[Summary]) -> dict[str, float | None]:
    """Each model's break-even D against the fastest model (least machine time per task)."""
    if not rows:
        return {}
    fastest = min(rows, key=lambda r: r.spent_mean_ms)
    return {r.model: break_even_s(fastest, r) for r in rows if r is not fastest}


def break_even_usd(cheap: Summary, dear: Summary) -> float | None:
    """The D$ above which ``dear`` beats ``cheap`` on expected cost-to-correct."""
    if cheap.cost_per_task_usd is None or dear.cost_per_task_usd is None:
        return None
    extra_cost = dear.cost_per_task_usd - cheap.cost_per_task_usd
    extra_accuracy = dear.solved - cheap.solved
    if extra_accuracy <= 0:
        return 0.0 if (extra_cost < 0 and extra_accuracy == 0) else None
    return max(0.0, extra_cost / extra_accuracy)


def break_evens_usd(rows: Sequence[Summary]) -> dict[str, float | None]:
    """Each priced model's break-even D$ against the cheapest priced model."""
    priced = [r for r in rows if r.cost_per_task_usd is not None]
    if not priced:
        return {}
    cheapest = min(priced, key=lambda r: r.cost_per_task_usd or 0.0)
    return {r.model: break_even_usd(cheapest, r) for r in priced if r is not cheapest}


def fastest_model(rows: Sequence[Summary]) -> str | None:
    return min(rows, key=lambda r: r.spent_mean_ms).model if rows else None
