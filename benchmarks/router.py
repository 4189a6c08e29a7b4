"""The learned router: decision latency and its template-held-out evaluation.

    python benchmarks/router.py                         # the shipped router and its data
    python benchmarks/router.py --from attempts.jsonl   # another bench run
    python benchmarks/router.py --quick                 # fewer timing rounds, no kNN

Prints:

* decision latency of the shipped router (``LearnedRouter.decide`` on a ``ChatRequest``:
  rule category, features, six linear heads, the choice), p50/p90/p99/max over every prompt
  in the data, repeated; and the feature extraction alone;
* the evaluation table (:mod:`ponder.router.evaluate`): the learned router refitted on each
  fold's training templates and judged on the held-out templates' prompts, against kNN,
  length-only, always-fast, always-deep, random and the oracle; D = 15 minutes;
* the issue's floors: APGR >= 0.8, E[TTC] below always-fast and always-deep, decision
  p50 < 1 ms and p99 < 5 ms.

The default data is ``benchmarks/data/router_attempts.jsonl.gz``: the embedded model's first
attempts on held-out arith and ledger problems in both modes (``ponder bench correct``,
k = 1; thoughts and answers dropped to keep the file small), the same data the shipped
``default_router.json`` was fitted on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ponder.config import parse_config
from ponder.meter import percentile
from ponder.request import ChatRequest
from ponder.router.data import load_outcomes, pair_cases
from ponder.router.default import load_default_router, shipped_router_path
from ponder.router.evaluate import evaluate, format_report
from ponder.router.features import Featurizer
from ponder.router.learned import LearnedRouter, LinearScorer

DATA = Path(__file__).parent / "data" / "router_attempts.jsonl.gz"


def time_calls(prompts: list[str], call: object, rounds: int) -> list[float]:
    """Microseconds per call, every prompt ``rounds`` times (after a warm-up pass)."""
    assert callable(call)
    for prompt in prompts[:50]:
        call(prompt)  # warm caches and lazy imports
    samples: list[float] = []
    for _ in range(rounds):
        for prompt in prompts:
            start = time.perf_counter_ns()
            call(prompt)
            samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def summary(name: str, samples: list[float]) -> str:
    p = [percentile(samples, q) or 0.0 for q in (50, 90, 99)]
    return (f"{name:<22} n={len(samples):<6} p50 {p[0]:7.1f} µs   p90 {p[1]:7.1f} µs   "
            f"p99 {p[2]:7.1f} µs   max {max(samples):8.1f} µs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=DATA)
    parser.add_argument("--router", type=Path, default=None,
                        help="model file to time (default: the shipped one)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--d-minutes", type=float, default=15.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency-only", action="store_true", help="skip the evaluation")
    args = parser.parse_args()

    if not args.source.is_file():
        print(f"no attempts file at {args.source}", file=sys.stderr)
        return 1
    outcomes = load_outcomes(args.source)
    prompts = sorted({o.prompt for o in outcomes})
    path = args.router or shipped_router_path()
    if path is None:
        print("no router model: pass --router or ship default_router.json", file=sys.stderr)
        return 1

    start = time.perf_counter()
    if args.router:
        router = LearnedRouter(LinearScorer.load(path), args.d_minutes)
    else:
        loaded = load_default_router(parse_config({}))
        assert isinstance(loaded, LearnedRouter)
        router = loaded
    load_ms = (time.perf_counter() - start) * 1000

    rounds = 3 if args.quick else 20
    featurizer = Featurizer()
    decide = time_calls(prompts, lambda p: router.decide(ChatRequest.from_prompt(p)), rounds)
    features = time_calls(prompts, featurizer.transform, rounds)
    print(f"router: {path.name}, loaded in {load_ms:.1f} ms; {len(prompts)} distinct prompts")
    print(summary("decision (decide)", decide))
    print(summary("features only", features))
    print()
    p50, p99 = percentile(decide, 50) or 0.0, percentile(decide, 99) or 0.0
    if args.latency_only:
        return 0 if p50 < 1000 and p99 < 5000 else 1

    started = time.perf_counter()
    report = evaluate(outcomes, k=args.folds, d_minutes=args.d_minutes, knn=not args.quick)
    print(format_report(report))
    print(f"(evaluation: {time.perf_counter() - started:.1f} s, "
          f"{len(pair_cases(outcomes))} prompts measured in both modes)")
    print()

    learned = report.row("learned")
    checks = [
        (f"APGR {learned.apgr:.3f} >= 0.8" if learned.apgr is not None else "APGR n/a",
         learned.apgr is not None and learned.apgr >= 0.8),
        (f"E[TTC] {learned.ettc_ms / 1000:.1f} s < always-fast "
         f"{report.row('always-fast').ettc_ms / 1000:.1f} s",
         learned.ettc_ms < report.row("always-fast").ettc_ms),
        (f"E[TTC] {learned.ettc_ms / 1000:.1f} s < always-deep "
         f"{report.row('always-deep').ettc_ms / 1000:.1f} s",
         learned.ettc_ms < report.row("always-deep").ettc_ms),
        (f"decision p50 {p50:.0f} µs < 1000 µs", p50 < 1000),
        (f"decision p99 {p99:.0f} µs < 5000 µs", p99 < 5000),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
