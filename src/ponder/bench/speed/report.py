"""The speed bench's self-contained HTML report: the step table and three inline-SVG plots.

1. TTFT and TTFA (p50, p90) against the load each step achieved (req/s);
2. throughput and goodput against the concurrency the server saw, the knee marked;
3. output tok/s, thinking and answer, against the same concurrency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ponder.bench.report import _CSS, _table
from ponder.bench.speed.outputs import table_rows
from ponder.bench.speed.stats import TPOT_DEFINITION, StepSummary, knee
from ponder.bench.svg import Chart, color


def _range(values: Sequence[float]) -> tuple[float, float]:
    high = max(values, default=1.0)
    return 0.0, (high * 1.1) or 1.0


def latency_vs_load(rows: Sequence[StepSummary]) -> str:
    ordered = sorted((r for r in rows if r.requests), key=lambda r: r.req_per_s)
    series = [("TTFA p50", "ttfa", 50), ("TTFA p90", "ttfa", 90), ("TTFT p50", "ttft", 50),
              ("TTFT p90", "ttft", 90)]
    ys = [r.q(m, q) or 0.0 for r in ordered for _, m, q in series]
    chart = Chart("TTFT and TTFA vs load", "achieved load (req/s)", "ms",
                  _range([r.req_per_s for r in ordered]), _range(ys))
    for i, (label, metric, q) in enumerate(series):
        points = [(r.req_per_s, v) for r in ordered if (v := r.q(metric, q)) is not None]
        chart.line(points, color(i), label, dashed=q == 90)
        for x, y in points:
            chart.point(x, y, color(i), radius=3)
    return chart.render()


def goodput_vs_concurrency(rows: Sequence[StepSummary], slo: Mapping[str, float]) -> str:
    ordered = sorted((r for r in rows if r.requests), key=lambda r: r.mean_in_flight)
    xs = [r.mean_in_flight for r in ordered]
    ys = [r.req_per_s for r in ordered]
    title = "Throughput and goodput" + (" (SLO: " + ", ".join(
        f"{k} ≤ {v:g} ms" for k, v in slo.items()) + ")" if slo else "")
    chart = Chart(title, "mean requests in flight", "req/s", _range(xs), _range(ys))
    chart.line([(r.mean_in_flight, r.req_per_s) for r in ordered], color(0), "req/s")
    chart.line([(r.mean_in_flight, r.goodput_req_per_s) for r in ordered], color(2), "goodput",
               dashed=True)
    for r in ordered:
        chart.point(r.mean_in_flight, r.goodput_req_per_s, color(2), radius=3)
    best = knee(ordered)
    if best is not None:
        chart.vline(best.mean_in_flight, "#111827", f"knee: {best.name}")
    return chart.render()


def tokens_vs_concurrency(rows: Sequence[StepSummary]) -> str:
    ordered = sorted((r for r in rows if r.requests), key=lambda r: r.mean_in_flight)
    chart = Chart("Output tokens/s: thinking vs answer", "mean requests in flight", "tok/s",
                  _range([r.mean_in_flight for r in ordered]),
                  _range([r.output_tok_per_s for r in ordered]))
    for i, (label, field) in enumerate((("thinking", "thinking_tok_per_s"),
                                        ("answer", "answer_tok_per_s"),
                                        ("all output", "output_tok_per_s"))):
        points = [(r.mean_in_flight, float(getattr(r, field))) for r in ordered]
        chart.line(points, color(i + 3), label)
    return chart.render()


def render_report(rows: Sequence[StepSummary], slo: Mapping[str, float],
                  settings: Mapping[str, Any]) -> str:
    header, cells = table_rows(rows, bool(slo))
    best = knee(rows)
    knee_note = (f"<p>Knee: <b>{escape(best.name)}</b> — the most goodput"
                 f" ({best.goodput_req_per_s:.2f} req/s); more load buys no more good"
                 " requests.</p>") if best is not None else ""
    estimated = any(r.tokens_estimated for r in rows)
    setting_cells = [[str(k), str(v)] for k, v in settings.items()]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ponder bench speed</title><style>{_CSS}</style></head>
<body>
<h1>ponder bench speed — latency under load, thinking and answer apart</h1>
{_table(header, cells)}
{knee_note}
<div class="plots">
{latency_vs_load(rows)}
{goodput_vs_concurrency(rows, slo)}
{tokens_vs_concurrency(rows)}
</div>
<h2>Definitions</h2>
<div class="note">
<p>Every request is metered as DESIGN.md defines: <b>TTFT</b> request sent → first token of any
kind (thought or answer); <b>TTFA</b> request sent → first <i>answer</i> token, what a user
waits for; <b>thinking time</b> TTFA − TTFT; <b>E2E</b> request sent → stream end;
<b>ITL</b> the gaps between successive chunks (percentiles over every gap of the step).
{escape(TPOT_DEFINITION)}.</p>
<p><b>req/s</b>: successful requests over the step's window (the span of the measured
requests' starts plus one mean gap between starts, so requests started at a steady rate λ
give λ); <b>tok/s</b> likewise, thinking and answer tokens apart{
" (some counts estimated: the server reported no split)" if estimated else ""};
<b>goodput</b>: requests that succeeded and met every SLO, per second; <b>mean in flight</b>:
Σ E2E / window. Warm-up requests are recorded in requests.jsonl and left out of every figure.</p>
</div>
<h2>Run</h2>
{_table(["setting", "value"], setting_cells)}
</body></html>
"""
