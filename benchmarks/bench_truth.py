"""The speed bench's own truth: how far its TTFT and TTFA are from what the server really did.

``ponder stub`` (its own process) streams a known schedule; ``ponder bench speed`` (one
process) drives ``--streams`` concurrent streams at it for ``--seconds``. Without jitter the
stub is due to send the first token at TTFT and the first answer token at TTFA after it read
each request, so every request's measured TTFT − scheduled TTFT is the bench's error (plus
loopback transit and the stub's own lateness, which the stub reports at ``/stub/stats``).

In the same run, when guidellm is installed (``pip install guidellm``; an optional
dependency of this benchmark only: ``--guidellm PATH`` names its executable), the same
schedule on a fresh stub is measured by guidellm at the same concurrency, and both tools'
figures are printed side by side. CPU seconds are each load generator's own (children's
rusage), so the cost per request compares too.

Floor (issue #18): ≥ 256 concurrent streams from one bench process, TTFT and TTFA errors
under 1 ms at p50. Run: ``python benchmarks/bench_truth.py`` (about a minute; ``--quick``
for a smoke run). Figures are noisy on a shared machine: compare the tools within one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ponder.meter import percentile
from ponder.stub.schedule import Schedule


@dataclass
class Figures:
    tool: str
    streams: int
    requests: int
    ttft_err: dict[int, float | None]
    ttfa_err: dict[int, float | None]
    req_per_s: float | None
    cpu_s: float
    stub: dict[str, dict[str, float | None]]
    note: str = ""


class Stub:
    """``ponder stub`` in its own process, on a free port."""

    def __init__(self, schedule: Schedule) -> None:
        command = [sys.executable, "-m", "ponder", "stub", "--port", "0",
                   "--ttft-ms", str(schedule.ttft_ms), "--itl-ms", str(schedule.itl_ms),
                   "--thought-tokens", str(schedule.thought_tokens),
                   "--answer-tokens", str(schedule.answer_tokens)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"(http://\S+)/v1", line)
        if not match:
            raise RuntimeError(f"ponder stub did not start: {line!r}")
        self.root = match.group(1)

    def stats(self) -> dict[str, dict[str, float | None]]:
        with urllib.request.urlopen(self.root + "/stub/stats", timeout=10) as response:
            data: dict[str, dict[str, float | None]] = json.load(response)["late_ms"]
            return data

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ponder(schedule: Schedule, streams: int, seconds: float, warmup: float,
               work: Path) -> Figures:
    stub = Stub(schedule)
    out = work / "ponder"
    command = [sys.executable, "-m", "ponder", "bench", "speed", "--model", "m",
               "--base-url", stub.root + "/v1", "--profile", "concurrent",
               "--concurrency", str(streams), "--duration", str(seconds),
               "--warmup", str(warmup), "--no-progress", "--out", str(out)]
    before = _child_cpu()
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        cpu = _child_cpu() - before
        late = stub.stats()
    finally:
        stub.close()
    ttft: list[float] = []
    ttfa: list[float] = []
    for line in (out / "requests.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["warmup"] or not row["ok"]:
            continue
        ttft.append(row["ttft_ms"] - schedule.ttft_ms)
        ttfa.append(row["ttfa_ms"] - (schedule.ttfa_ms or 0.0))
    step = next(csv.DictReader((out / "steps.csv").open()))
    note = f"mean in flight {float(step['mean_in_flight']):.0f}"
    return Figures("ponder bench speed", streams, len(ttft), _quantiles(ttft), _quantiles(ttfa),
                   float(step["req_per_s"]), cpu, late, note)


def _quantiles(values: Sequence[float]) -> dict[int, float | None]:
    return {q: percentile(list(values), q) for q in (50, 90, 99)}


def find_guidellm(given: str | None) -> str | None:
    if given:
        return given
    beside = Path(sys.executable).with_name("guidellm")
    return str(beside) if beside.exists() else shutil.which("guidellm")


def run_guidellm(executable: str, schedule: Schedule, streams: int, seconds: float,
                 warmup: float, work: Path) -> Figures:
    stub = Stub(schedule)
    prompts = work / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": f"request {i}: sum the orders per user"})
                               + "\n" for i in range(8192)))
    report = work / "guidellm.json"
    command = [executable, "run", "--backend", f"kind=openai_http,target={stub.root},model=m",
               "--profile", f"kind=concurrent,streams={streams}",
               "--constraint", f"kind=max_duration,seconds={seconds + warmup:g}",
               "--data", f"kind=json_file,path={prompts}",
               "--output", f"kind=json,path={report}", "--disable-console"]
    before = _child_cpu()
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        cpu = _child_cpu() - before
        late = stub.stats()
    finally:
        stub.close()
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RuntimeError("guidellm failed: " + " | ".join(tail))
    bench = json.loads(report.read_text())["benchmarks"][0]["metrics"]

    def errors(key: str, due: float) -> dict[int, float | None]:
        got = bench[key]["successful"]["percentiles"]
        return {q: got[f"p{q}"] - due for q in (50, 90, 99)}

    done = int(bench["request_totals"]["successful"])
    rate = float(bench["requests_per_second"]["successful"]["mean"])
    return Figures("guidellm", streams, done, errors("time_to_first_token_ms", schedule.ttft_ms),
                   errors("time_to_first_output_token_ms", schedule.ttfa_ms or 0.0), rate, cpu,
                   late, "TTFA = its TTFOT; no warm-up excluded")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def table(rows: Sequence[Figures]) -> list[str]:
    header = (f"{'tool':<20} {'streams':>7} {'requests':>8} {'TTFT err p50/p90/p99 ms':>26}"
              f" {'TTFA err p50/p90/p99 ms':>26} {'req/s':>7} {'CPU ms/req':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        ttft = "/".join(_ms(r.ttft_err[q]) for q in (50, 90, 99))
        ttfa = "/".join(_ms(r.ttfa_err[q]) for q in (50, 90, 99))
        per = r.cpu_s * 1000 / r.requests if r.requests else float("nan")
        rate = "—" if r.req_per_s is None else f"{r.req_per_s:.1f}"
        lines.append(f"{r.tool:<20} {r.streams:>7} {r.requests:>8} {ttft:>26} {ttfa:>26}"
                     f" {rate:>7} {per:>10.2f}")
        stub = r.stub
        lines.append(f"{'':<20} stub's own lateness p50: first token"
                     f" {_ms(stub['first_token']['p50'])} ms, first answer"
                     f" {_ms(stub['first_answer']['p50'])} ms; {r.note}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per tool")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--ttft-ms", type=float, default=500.0)
    parser.add_argument("--thought-tokens", type=int, default=24)
    parser.add_argument("--answer-tokens", type=int, default=8)
    parser.add_argument("--itl-ms", type=float, default=50.0)
    parser.add_argument("--guidellm", default=None, help="guidellm's executable (default: on"
                        " PATH or beside this Python)")
    parser.add_argument("--no-guidellm", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.streams, args.seconds, args.warmup = 32, 3.0, 1.0
    schedule = Schedule(args.ttft_ms, args.thought_tokens, args.answer_tokens, args.itl_ms)
    chunks = args.streams * 1000 / args.itl_ms
    print(f"stub schedule: TTFT {schedule.ttft_ms:g} ms, TTFA {schedule.ttfa_ms:g} ms,"
          f" E2E {schedule.e2e_ms:g} ms; {args.streams} streams ≈ {chunks:.0f} chunks/s;"
          f" {os.cpu_count()} CPUs (shared: figures are noisy); python"
          f" {sys.version.split()[0]}")
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.monotonic()
        rows.append(run_ponder(schedule, args.streams, args.seconds, args.warmup, work))
        executable = None if args.no_guidellm else find_guidellm(args.guidellm)
        if executable is None:
            skipped = "guidellm: not run (" + ("--no-guidellm" if args.no_guidellm else
                       "not installed: pip install guidellm, or --guidellm PATH") + ")"
        else:
            skipped = ""
            try:
                rows.append(run_guidellm(executable, schedule, args.streams, args.seconds,
                                         args.warmup, work))
            except RuntimeError as exc:
                skipped = f"guidellm: {exc}"
        for line in table(rows):
            print(line)
        if skipped:
            print(skipped)
        print(f"({time.monotonic() - started:.0f} s)")
    ours = rows[0]
    ttft50, ttfa50 = ours.ttft_err[50], ours.ttfa_err[50]
    ok = (ours.streams >= 256 and ttft50 is not None and ttfa50 is not None
          and abs(ttft50) < 1.0 and abs(ttfa50) < 1.0)
    print(f"floor: {ours.streams} streams (>= 256), TTFT error p50 {_ms(ttft50)} ms and TTFA"
          f" error p50 {_ms(ttfa50)} ms (< 1 ms): {'PASS' if ok else 'FAIL'}")
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
