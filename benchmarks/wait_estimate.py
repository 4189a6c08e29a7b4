"""How well the wait estimator predicts: held-out calibration of its TTFA ranges.

    python benchmarks/wait_estimate.py                       # the bench's attempts
    python benchmarks/wait_estimate.py --from attempts.jsonl # another bench run

The embedded model's attempts (``benchmarks/data/router_attempts.jsonl.gz``: arith and
ledger problems in both modes) are split by task, one task in ``--hold`` (default 4) held
out; the estimator (:mod:`ponder.estimate`) learns from the rest in file order, then
predicts each held-out attempt from its prompt alone. Printed per model and overall:

* how often the real TTFA fell inside the predicted p10-p90 band (the issue's floor is
  70-90 %: a band that catches far more is too wide to be useful, far fewer too narrow);
* the median absolute error of the p50 against the real TTFA, in ms and relative;
* the same coverage for thought tokens and E2E, and how many predictions had no estimate.

Timings in the data come from one machine; the figures here are about calibration, not
speed, so a shared machine does not move them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import zlib
from collections import defaultdict
from pathlib import Path

from ponder.estimate import Estimator, Range, read_attempts

DATA = Path(__file__).parent / "data" / "router_attempts.jsonl.gz"


def held_out(prompt: str, hold: int) -> bool:
    return zlib.crc32(prompt.encode()) % hold == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="path", type=Path, default=DATA)
    parser.add_argument("--hold", type=int, default=4, help="hold out one task in N")
    args = parser.parse_args(argv)
    rows = list(read_attempts(args.path))
    train = [r for r in rows if not held_out(r[1], args.hold)]
    test = [r for r in rows if held_out(r[1], args.hold)]
    estimator = Estimator()
    for model, prompt, ttfa, e2e, thinking, gap in train:
        estimator.observe(model, prompt, ttfa, e2e, thinking, gap)

    inside: dict[str, list[bool]] = defaultdict(list)
    errors: dict[str, list[float]] = defaultdict(list)
    relative: dict[str, list[float]] = defaultdict(list)
    e2e_inside: dict[str, list[bool]] = defaultdict(list)
    thought_inside: dict[str, list[bool]] = defaultdict(list)
    basis: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for model, prompt, ttfa, e2e, thinking, _ in test:
        estimate = estimator.estimate(model, prompt)
        if estimate is None:
            basis[model]["none"] += 1
            continue
        basis[model][estimate.basis] += 1
        for key in (model, "all"):
            inside[key].append(estimate.ttfa_ms.contains(ttfa))
            errors[key].append(abs(ttfa - estimate.ttfa_ms.p50))
            relative[key].append(abs(ttfa - estimate.ttfa_ms.p50) / max(ttfa, 1e-9))
            e2e_inside[key].append(estimate.e2e_ms.contains(e2e))
            band: Range | None = estimate.thinking_tokens
            if band is not None and thinking:
                thought_inside[key].append(band.contains(thinking))

    print(f"data: {args.path.name}, {len(train)} attempts learned, {len(test)} held out")
    header = (
        f"{'model':<6} {'n':>5} {'TTFA in p10-p90':>16} {'median |err|':>13} {'rel':>6}"
        f" {'E2E in band':>12} {'thoughts in band':>17}  basis"
    )
    print(header)
    for key in sorted(inside, key=lambda k: (k == "all", k)):
        thoughts = thought_inside[key]
        share = f"{100 * sum(thoughts) / len(thoughts):.0f} %" if thoughts else "-"
        bases = basis[key] if key != "all" else _total(basis)
        ttfa_share = 100 * sum(inside[key]) / len(inside[key])
        e2e_share = 100 * sum(e2e_inside[key]) / len(e2e_inside[key])
        error, rel = statistics.median(errors[key]), 100 * statistics.median(relative[key])
        print(
            f"{key:<6} {len(inside[key]):>5} {ttfa_share:>14.1f} % {error:>10.2f} ms {rel:>4.0f} %"
            f" {e2e_share:>10.1f} % {share:>17}  "
            + ", ".join(f"{b} {n}" for b, n in sorted(bases.items()))
        )
    coverage = 100 * sum(inside["all"]) / len(inside["all"])
    verdict = "within" if 70 <= coverage <= 90 else "OUTSIDE"
    print(f"TTFA p10-p90 coverage {coverage:.1f} %: {verdict} the 70-90 % floor")
    return 0 if verdict == "within" else 1


def _total(basis: dict[str, dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for counts in basis.values():
        for name, n in counts.items():
            out[name] += n
    return out


if __name__ == "__main__":
    sys.exit(main())
