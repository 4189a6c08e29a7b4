"""Rebuild the shipped router: bench the embedded model, keep the data, fit, save.

    python scripts/make_router_data.py                 # ~5 min on 2 CPU cores
    python scripts/make_router_data.py --n-per-level 20 --no-fit   # a smoke run

1. ``ponder bench correct --suite arith,ledger --models fast,deep -k 1`` over held-out
   problems (every level, every phrasing template the task families have), resumable in
   ``--work`` (default ``runs/router-data``);
2. its attempts JSONL, thoughts and answers dropped (the router reads prompts, verdicts
   and timings only), gzipped, to ``benchmarks/data/router_attempts.jsonl.gz``;
3. ``ponder router fit`` on that file to ``src/ponder/router/default_router.json``.

Run from the repository root.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
from pathlib import Path

DATA = Path("benchmarks/data/router_attempts.jsonl.gz")
MODEL = Path("src/ponder/router/default_router.json")
DROP = ("thinking", "answer")


def compact(source: Path, target: Path) -> int:
    """Copy the attempts without the model's text; returns the number of rows."""
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with source.open(encoding="utf-8") as src, gzip.open(target, "wt", encoding="utf-8") as dst:
        for line in src:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            for key in DROP:
                row[key] = ""
            dst.write(json.dumps(row, ensure_ascii=False) + "\n")
            rows += 1
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-level", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("runs/router-data"))
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--no-fit", action="store_true")
    args = parser.parse_args()

    bench = [
        sys.executable, "-m", "ponder", "bench", "correct", "--suite", "arith,ledger",
        "--models", "fast,deep", "-k", "1", "--n-per-level", str(args.n_per_level),
        "--seed", str(args.seed), "--concurrency", str(args.concurrency),
        "--out", str(args.work),
    ]
    if subprocess.run(bench, check=False).returncode != 0:
        return 1
    rows = compact(args.work / "attempts.jsonl", args.data)
    print(f"wrote {rows} attempts to {args.data}")
    if args.no_fit:
        return 0
    fit = [sys.executable, "-m", "ponder", "router", "fit", "--from", str(args.data),
           "--out", str(args.model)]
    return subprocess.run(fit, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
