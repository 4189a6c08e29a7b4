"""Judge routers on held-out prompts: template-grouped splits and RouteLLM-style metrics.

A *policy* gives each test prompt a probability of going deep (0 or 1 for a router, the
deep share for random) and optionally a *score* (higher = more worth thinking) that orders
prompts for the quality-vs-deep-calls curve. From those, per policy:

- **accuracy**: agreement with the oracle, the mode with the lower *realised* expected
  time-to-correct E2E + (1 − pass)·D on that prompt;
- **APGR**: the area under performance-gap-recovered as the share of deep calls goes 0 → 1,
  routing the highest scores deep first; PGR = (pass − pass_fast) / (pass_deep − pass_fast).
  Ties are resolved in expectation, so a random order scores exactly 0.5;
- **CPT(50%)**, **CPT(80%)**: the smallest share of deep calls that recovers 50% / 80% of
  the gap;
- **E[TTC]**: mean expected time-to-correct of the policy's choices.

Held-out splits are by template (``suite/template``): a test prompt's phrasing was never
seen in training, so a router cannot pass by memorising templates.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ponder.router.data import Case, Outcome, pair_cases
from ponder.router.learned import DEFAULT_D_MINUTES, Estimate, Scorer, choose

Fit = Callable[[Sequence[Outcome]], Scorer]


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    deep: list[float]  # per case: probability of routing deep
    score: list[float] | None  # per case: deep-worthiness order; None when it has none


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    accuracy: float
    deep_share: float
    pass_rate: float
    apgr: float | None
    cpt50: float | None
    cpt80: float | None
    ettc_ms: float


def template_folds(templates: Sequence[str], k: int = 5, seed: int = 0) -> list[set[str]]:
    """Disjoint sets of test templates covering every template (deterministic for a seed)."""
    distinct = sorted(set(templates))
    if len(distinct) < 2:
        raise ValueError("held-out evaluation needs at least two templates")
    random.Random(seed).shuffle(distinct)
    k = min(k, len(distinct))
    return [set(distinct[i::k]) for i in range(k)]


def pgr_curve(cases: Sequence[Case], score: Sequence[float]) -> tuple[list[float], list[float]]:
    """(deep share, PGR) points, routing the highest scores deep first; ties in expectation."""
    n = len(cases)
    fast_total = sum(c.fast.pass_rate for c in cases)
    gap = sum(c.deep.pass_rate for c in cases) - fast_total
    if n == 0 or gap <= 1e-12:
        return [], []
    order = sorted(range(n), key=lambda i: -score[i])
    xs, ys, gained, pos = [0.0], [0.0], 0.0, 0
    while pos < n:
        end = pos
        while end < n and score[order[end]] == score[order[pos]]:
            end += 1
        gained += sum(cases[i].deep.pass_rate - cases[i].fast.pass_rate for i in order[pos:end])
        pos = end
        xs.append(pos / n)
        ys.append(gained / gap)
    return xs, ys


def apgr(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if not xs:
        return None
    return float(sum((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2 for i in range(1, len(xs))))


def cpt(xs: Sequence[float], ys: Sequence[float], target: float) -> float | None:
    """Smallest deep share whose PGR reaches ``target`` (linear between curve points)."""
    for i in range(1, len(xs)):
        if ys[i] >= target - 1e-12:
            if ys[i] == ys[i - 1]:
                return xs[i]
            t = (target - ys[i - 1]) / (ys[i] - ys[i - 1])
            return float(xs[i - 1] + max(0.0, t) * (xs[i] - xs[i - 1]))
    return None


def score_policy(policy: Policy, cases: Sequence[Case], d_ms: float) -> Row:
    q = np.asarray(policy.deep, dtype=float)
    oracle_deep = np.array([c.oracle(d_ms) == "deep" for c in cases], dtype=float)
    passes = np.array([[c.fast.pass_rate, c.deep.pass_rate] for c in cases])
    costs = np.array([[c.fast.cost_ms(d_ms), c.deep.cost_ms(d_ms)] for c in cases])
    xs, ys = pgr_curve(cases, policy.score) if policy.score is not None else ([], [])
    return Row(
        name=policy.name,
        accuracy=float(np.mean(q * oracle_deep + (1 - q) * (1 - oracle_deep))),
        deep_share=float(q.mean()),
        pass_rate=float(np.mean((1 - q) * passes[:, 0] + q * passes[:, 1])),
        apgr=apgr(xs, ys),
        cpt50=cpt(xs, ys, 0.5),
        cpt80=cpt(xs, ys, 0.8),
        ettc_ms=float(np.mean((1 - q) * costs[:, 0] + q * costs[:, 1])),
    )


def estimate_policy(name: str, estimates: Sequence[Estimate], d_ms: float) -> Policy:
    return Policy(
        name,
        [1.0 if choose(e, d_ms)[0] == "deep" else 0.0 for e in estimates],
        [e.p_deep - e.p_fast for e in estimates],
    )


def fit_length_threshold(cases: Sequence[Case], d_ms: float) -> float:
    """The prompt length (characters) at and above which going deep minimises training cost."""
    lengths = sorted({len(c.prompt) for c in cases})
    best, best_cost = float("inf"), float("inf")
    for threshold in [*lengths, float("inf")]:
        cost = sum(c.result("deep" if len(c.prompt) >= threshold else "fast").cost_ms(d_ms)
                   for c in cases)
        if cost < best_cost - 1e-9:
            best, best_cost = threshold, cost
    return best


def baseline_policies(cases: Sequence[Case], d_ms: float, deep_share: float) -> list[Policy]:
    n = len(cases)
    return [
        Policy("always-fast", [0.0] * n, None),
        Policy("always-deep", [1.0] * n, None),
        Policy(f"random ({deep_share:.0%} deep)", [deep_share] * n, [0.0] * n),
        Policy("oracle", [1.0 if c.oracle(d_ms) == "deep" else 0.0 for c in cases],
               [c.deep.pass_rate - c.fast.pass_rate - c.deep.e2e_ms / d_ms
                + c.fast.e2e_ms / d_ms for c in cases]),
    ]


@dataclass(frozen=True, slots=True)
class Report:
    rows: list[Row]
    cases: int
    templates: int
    folds: int
    d_minutes: float

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


def evaluate(
    outcomes: Sequence[Outcome],
    fit: Fit | None = None,
    scorer: Scorer | None = None,
    k: int = 5,
    d_minutes: float = DEFAULT_D_MINUTES,
    seed: int = 0,
    knn: bool = True,
) -> Report:
    """Template-held-out evaluation of the learned router and its baselines.

    With ``fit`` (default: :func:`ponder.router.train.fit_scorer`) the learned router is
    refitted on each fold's training templates; with ``scorer`` a given router is judged on
    every prompt as is (the baselines are still fitted per fold).
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1):
        return _evaluate(outcomes, fit, scorer, k, d_minutes, seed, knn)


def _evaluate(
    outcomes: Sequence[Outcome],
    fit: Fit | None,
    scorer: Scorer | None,
    k: int,
    d_minutes: float,
    seed: int,
    knn: bool,
) -> Report:
    from ponder.router.knn import KnnScorer
    from ponder.router.train import fit_scorer

    d_ms = d_minutes * 60_000.0
    fit = fit or fit_scorer
    cases = pair_cases(outcomes)
    if not cases:
        raise ValueError("no prompt was measured in both modes")
    folds = template_folds([c.template for c in cases], k, seed)
    index = {c.key: i for i, c in enumerate(cases)}
    names = ["learned", *(["kNN"] if knn else []), "length-only"]
    deep: dict[str, list[float]] = {n: [0.0] * len(cases) for n in names}
    score: dict[str, list[float]] = {n: [0.0] * len(cases) for n in names}
    for test_templates in folds:
        train = [o for o in outcomes if o.template not in test_templates]
        test = [c for c in cases if c.template in test_templates]
        slots = [index[c.key] for c in test]
        prompts = [c.prompt for c in test]
        learned = scorer or fit(train)
        fitted: dict[str, list[Estimate]] = {"learned": [learned.estimate(p) for p in prompts]}
        if knn:
            fitted["kNN"] = KnnScorer(train).estimate_many(prompts)
        for name, estimates in fitted.items():
            policy = estimate_policy(name, estimates, d_ms)
            for slot, q, s in zip(slots, policy.deep, policy.score or [], strict=True):
                deep[name][slot], score[name][slot] = q, s
        threshold = fit_length_threshold(
            [c for c in cases if c.template not in test_templates], d_ms)
        for slot, c in zip(slots, test, strict=True):
            deep["length-only"][slot] = 1.0 if len(c.prompt) >= threshold else 0.0
            score["length-only"][slot] = float(len(c.prompt))
    policies = [Policy(n, deep[n], score[n]) for n in names]
    share = float(np.mean(deep["learned"]))
    policies += baseline_policies(cases, d_ms, share)
    return Report(
        rows=[score_policy(p, cases, d_ms) for p in policies],
        cases=len(cases),
        templates=len({c.template for c in cases}),
        folds=len(folds),
        d_minutes=d_minutes,
    )


def format_report(report: Report) -> str:
    head = (f"{'router':<20} {'accuracy':>8} {'deep %':>7} {'pass':>6} {'APGR':>6} "
            f"{'CPT50':>6} {'CPT80':>6} {'E[TTC]':>10}")
    lines = [
        f"held-out by template: {report.cases} prompts, {report.templates} templates, "
        f"{report.folds} folds; D = {report.d_minutes:g} min",
        head,
        "-" * len(head),
    ]
    for r in report.rows:
        lines.append(
            f"{r.name:<20} {r.accuracy:>8.3f} {r.deep_share:>7.1%} {r.pass_rate:>6.3f} "
            f"{_opt(r.apgr, '.3f'):>6} {_opt(r.cpt50, '.0%'):>6} {_opt(r.cpt80, '.0%'):>6} "
            f"{_seconds(r.ettc_ms):>10}"
        )
    return "\n".join(lines)


def _opt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s"
