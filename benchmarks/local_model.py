"""Benchmark the embedded model through the ``local`` provider, in both modes.

    python benchmarks/local_model.py            # >= 500 held-out problems per family and mode
    python benchmarks/local_model.py --quick    # 10 per level: a smoke run

Prints, for fast and deep: decode tokens/s, TTFT, TTFA, thought tokens (ponder's metric
definitions, :mod:`ponder.meter`), and exact-answer accuracy by family and level on
held-out problems (checked by :func:`ponder.tasks.verify`). Requests run one at a time,
greedy, with the model loaded before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from ponder import tasks
from ponder.config import ModelConfig, ThinkingConfig
from ponder.meter import Meter, Metrics, percentile
from ponder.providers.local import LocalProvider, load_engine
from ponder.request import ChatRequest


@dataclass
class Cell:
    right: int = 0
    total: int = 0
    thought_tokens: list[int] = field(default_factory=list)
    # deep only: where each wrong answer's scratchpad first left the reference
    slips: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else math.nan


def provider(mode: str, path: str | None) -> LocalProvider:
    options = {"path": path} if path else {}
    thinking = ThinkingConfig(enabled=mode == "deep", opens_in_template=mode == "deep")
    return LocalProvider(ModelConfig(mode, "local", thinking=thinking, options=options))


async def run_one(p: LocalProvider, problem: tasks.Problem) -> tuple[Metrics, str, str]:
    meter = Meter()
    async for event in p.stream(ChatRequest.from_prompt(problem.prompt, model=p.name)):
        meter.feed(event)
    return meter.metrics(), meter.answer_text, meter.thinking_text


def line_kind(family: str, line: str) -> str:
    """What a reference scratchpad line does, for grouping where deep goes wrong."""
    if family == "arith":
        if line.startswith("="):
            return "reading off the digits"
        if ":" not in line:
            return "restating the operands"
        return "multiplication row" if "*" in line else "column sums"
    if " orders " in line:
        return "customer total and counts"
    return "ranking"


def first_slip(problem: tasks.Problem, thoughts: str, answer: str) -> tuple[str, str, str]:
    """Where a wrong deep answer first leaves the reference scratchpad: (kind, want, got)."""
    reference = tasks.solve(problem.prompt)
    assert reference is not None
    want_lines, got_lines = reference.thoughts.splitlines(), thoughts.splitlines()
    for i, want in enumerate(want_lines):
        got = got_lines[i] if i < len(got_lines) else ""
        if got != want:
            return line_kind(problem.family, want), want, got
    return "answer after a right scratchpad", reference.answer, answer


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


async def bench(args: argparse.Namespace) -> dict[str, object]:
    p0 = provider("deep", args.path)
    await asyncio.to_thread(load_engine, p0.path)
    problems: dict[tuple[str, int], list[tasks.Problem]] = {}
    for family, levels in tasks.families().items():
        per_level = args.per_level or math.ceil(args.per_family / len(levels))
        for level in levels:
            problems[(family, level)] = tasks.generate(family, level, per_level, seed=args.seed)
    report: dict[str, object] = {}
    for mode in args.modes:
        p = provider(mode, args.path)
        cells: dict[tuple[str, int], Cell] = {}
        runs: list[Metrics] = []
        started = time.perf_counter()
        for key, batch in problems.items():
            cell = cells.setdefault(key, Cell())
            for problem in batch:
                metrics, answer, thoughts = await run_one(p, problem)
                runs.append(metrics)
                cell.total += 1
                ok = tasks.verify(problem, answer).ok
                cell.right += ok
                if mode == "deep" and not ok:
                    cell.slips.append(first_slip(problem, thoughts, answer))
                cell.thought_tokens.append(metrics.thinking_tokens)
        wall = time.perf_counter() - started
        report[mode] = summarise(mode, cells, runs, wall)
    return report


def summarise(mode: str, cells: dict[tuple[str, int], Cell], runs: list[Metrics],
              wall: float) -> dict[str, object]:
    def p50(values: list[float | None]) -> float | None:
        return percentile([v for v in values if v is not None], 50)

    return {
        "requests": len(runs),
        "wall_s": round(wall, 1),
        # decode speed over all requests together: (output tokens - 1) / (E2E - TTFT), summed
        # (per-request figures of 2-token fast answers are noise)
        "decode_tps": decode_speed(runs),
        "ttft_ms_p50": p50([m.ttft_ms for m in runs]),
        "ttfa_ms_p50": p50([m.ttfa_ms for m in runs]),
        "ttfa_ms_p95": percentile([m.ttfa_ms for m in runs if m.ttfa_ms is not None], 95),
        "e2e_ms_p50": p50([m.e2e_ms for m in runs]),
        "thought_tokens_mean": statistics.fmean(m.thinking_tokens for m in runs),
        "answer_tokens_mean": statistics.fmean(m.answer_tokens for m in runs),
        "accuracy": {
            f"{family}/{level}": {
                "n": cell.total,
                "accuracy": cell.accuracy,
                "thought_tokens_mean": statistics.fmean(cell.thought_tokens),
                "slips": dict(Counter(kind for kind, _, _ in cell.slips).most_common()),
                "slip_example": list(cell.slips[0][1:]) if cell.slips else None,
            }
            for (family, level), cell in cells.items()
        },
    }


def decode_speed(runs: list[Metrics]) -> float | None:
    timed = [m for m in runs if m.e2e_ms is not None and m.ttft_ms is not None]
    tokens = sum(m.output_tokens - 1 for m in timed if m.output_tokens > 1)
    seconds = sum((m.e2e_ms or 0.0) - (m.ttft_ms or 0.0) for m in timed) / 1000
    return tokens / seconds if seconds > 0 else None


def print_report(report: dict[str, object]) -> None:
    print("mode  decode tok/s  TTFT p50 ms  TTFA p50 ms  TTFA p95 ms  E2E p50 ms  thought tok")
    for mode, data in report.items():
        assert isinstance(data, dict)
        print(
            f"{mode:<5} {fmt(data['decode_tps'], 0):>12} {fmt(data['ttft_ms_p50']):>12} "
            f"{fmt(data['ttfa_ms_p50']):>12} {fmt(data['ttfa_ms_p95']):>12} "
            f"{fmt(data['e2e_ms_p50']):>11} {fmt(data['thought_tokens_mean']):>12}"
        )
    print()
    modes = list(report)
    header = "family  level  n    " + "  ".join(f"{m + ' acc':>9}  {m + ' thought':>12}"
                                             for m in modes)
    print(header)
    first = report[modes[0]]
    assert isinstance(first, dict)
    for key in first["accuracy"]:
        family, level = key.split("/")
        row = [f"{family:<7} {level:>5}  {first['accuracy'][key]['n']:<4}"]
        for m in modes:
            data = report[m]
            assert isinstance(data, dict)
            cell = data["accuracy"][key]
            row.append(f"{100 * cell['accuracy']:>8.1f}%  {cell['thought_tokens_mean']:>12.1f}")
        print(" " .join(row))
    deep = report.get("deep")
    if isinstance(deep, dict) and any(c["slips"] for c in deep["accuracy"].values()):
        print()
        print("where wrong deep answers first leave the reference scratchpad:")
        for key, cell in deep["accuracy"].items():
            if cell["slips"]:
                kinds = ", ".join(f"{kind} {n}" for kind, n in cell["slips"].items())
                want, got = cell["slip_example"]
                print(f"  {key:<9} {kinds}")
                print(f"            e.g. want {want[:70]!r}")
                print(f"                 got  {got[:70]!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 problems per level")
    parser.add_argument("--per-family", type=int, default=500)
    parser.add_argument("--per-level", type=int, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--modes", nargs="+", default=["fast", "deep"], choices=["fast", "deep"])
    parser.add_argument("--path", default=None, help="another ORT GenAI model folder")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.quick and args.per_level is None:
        args.per_level = 10
    report = asyncio.run(bench(args))
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
