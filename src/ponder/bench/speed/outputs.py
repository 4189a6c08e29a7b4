"""The speed bench's files and its stdout table.

- ``requests.jsonl``: one line per request (warm-up included, marked), the full meter;
- ``steps.csv``: one row per step (the fields of :data:`CSV_FIELDS`);
- the plain-text table printed at the end (shared with the HTML report).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from ponder.bench.outputs import render_table
from ponder.bench.speed.runner import RequestRecord
from ponder.bench.speed.stats import QUANTILES, StepSummary, tpot_ms

METRICS = ("ttft", "ttfa", "thinking", "e2e", "tpot", "itl")
CSV_FIELDS = (
    "step", "name", "kind", "value", "requests", "errors", "window_s", "req_per_s",
    "thinking_tok_per_s", "answer_tok_per_s", "output_tok_per_s", "goodput_req_per_s",
    "goodput_share", "mean_in_flight", "tokens_estimated",
    *(f"{m}_p{q}_ms" for m in METRICS for q in QUANTILES),
)


def record_json(record: RequestRecord) -> dict[str, Any]:
    metrics = record.outcome.metrics
    return {
        "step": record.step,
        "step_name": record.step_name,
        "index": record.index,
        "started_s": round(record.started_s, 6),
        "warmup": record.warmup,
        "ok": record.outcome.error is None,
        "error": record.outcome.error,
        **metrics.as_dict(),
        "tpot_ms": tpot_ms(metrics),
    }


def append_jsonl(handle: IO[str], records: Iterable[RequestRecord]) -> None:
    for record in records:
        handle.write(json.dumps(record_json(record)) + "\n")


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_csv(path: Path, rows: Sequence[StepSummary]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for r in rows:
            writer.writerow([
                r.step, r.name, r.kind, f"{r.value:g}", r.requests, r.errors,
                _num(r.window_s), _num(r.req_per_s), _num(r.thinking_tok_per_s, 1),
                _num(r.answer_tok_per_s, 1), _num(r.output_tok_per_s, 1),
                _num(r.goodput_req_per_s), _num(r.goodput_share, 4), _num(r.mean_in_flight, 2),
                str(r.tokens_estimated).lower(),
                *(_num(r.q(m, q)) for m in METRICS for q in QUANTILES),
            ])


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.1f} ms"


def table_rows(rows: Sequence[StepSummary], slo: bool) -> tuple[list[str], list[list[str]]]:
    header = ["step", "req", "err", "req/s", "TTFT p50", "TTFA p50", "TTFA p90", "TTFA p99",
              "E2E p50", "TPOT p50", "ITL p99", "think tok/s", "answer tok/s"]
    if slo:
        header += ["goodput/s", "met SLO"]
    cells = []
    for r in rows:
        row = [r.name, str(r.requests), str(r.errors), f"{r.req_per_s:.2f}",
               _ms(r.q("ttft", 50)), _ms(r.q("ttfa", 50)), _ms(r.q("ttfa", 90)),
               _ms(r.q("ttfa", 99)), _ms(r.q("e2e", 50)), _ms(r.q("tpot", 50)),
               _ms(r.q("itl", 99)), f"{r.thinking_tok_per_s:.0f}",
               f"{r.answer_tok_per_s:.0f}"]
        if slo:
            row += [f"{r.goodput_req_per_s:.2f}", f"{r.goodput_share:.0%}"]
        cells.append(row)
    return header, cells


def headline_text(rows: Sequence[StepSummary], slo: bool) -> str:
    header, cells = table_rows(rows, slo)
    return render_table(header, cells)
