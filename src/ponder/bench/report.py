"""The self-contained HTML report: tables plus three inline-SVG plots, no external assets.

1. TTFA vs pass rate per model (one dot per model and per model x level);
2. time-to-correct CDFs (tasks never correct are censored: a curve plateaus at the solved share);
3. expected time-to-correct as the human fix-up cost D grows, break-even marked;
4. cost per correct answer vs median time-to-correct per model (when any model has a price).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ponder.bench.outputs import break_even_lines, fmt_seconds, table_rows
from ponder.bench.records import AttemptRecord
from ponder.bench.stats import MS_PER_S, ChainResult, Summary, ttc_cdf
from ponder.bench.svg import Chart, color

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1180px;
color:#111827;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border-bottom:1px solid #e5e7eb;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1rem}
.note{color:#4b5563;font-size:.85rem;max-width:60rem}
code{background:#f3f4f6;padding:0 .2rem}
"""


def _table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in cells
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def ttfa_vs_pass(headline: Sequence[Summary], levels: Sequence[Summary]) -> str:
    rows = [*headline, *levels]
    xs = [r.ttfa_p50_ms / MS_PER_S for r in rows if r.ttfa_p50_ms is not None]
    x_high = max(xs, default=1.0) * 1.25 or 1.0
    chart = Chart("TTFA vs pass rate", "median TTFA (s)", "pass@1", (0.0, x_high), (0.0, 1.05))
    colours = {r.model: color(i) for i, r in enumerate(headline)}
    for r in levels:
        if r.ttfa_p50_ms is not None:
            chart.point(
                r.ttfa_p50_ms / MS_PER_S,
                r.pass_at_1,
                colours.get(r.model, "#6b7280"),
                f"{r.suite} L{r.level}",
                radius=3,
            )
    for r in headline:
        if r.ttfa_p50_ms is not None:
            chart.point(r.ttfa_p50_ms / MS_PER_S, r.pass_at_1, colours[r.model], radius=7)
        chart.legend_entry(f"{r.model} ({r.mode})", colours[r.model])
    return chart.render()


def ttc_cdf_chart(headline: Sequence[Summary], chains: Sequence[ChainResult]) -> str:
    curves: dict[str, list[tuple[float, float]]] = {}
    for r in headline:
        observations = [(c.spent_ms / MS_PER_S, c.solved) for c in chains if c.model == r.model]
        curves[r.model] = ttc_cdf(observations)
    times = [t for points in curves.values() for t, _ in points if t > 0]
    low = min(times, default=0.01)
    high = max(times, default=1.0)
    log = high / max(low, 1e-9) > 20
    x_range = (10 ** math.floor(math.log10(low)), high * 1.2) if log else (0.0, high * 1.1)
    chart = Chart(
        "Time-to-correct CDF (censored after k tries)",
        "time-to-correct (s, retries included)" + (", log scale" if log else ""),
        "share of tasks correct",
        x_range,
        (0.0, 1.05),
        x_log=log,
    )
    for i, r in enumerate(headline):
        points = curves[r.model]
        if not points:
            chart.legend_entry(f"{r.model}: never correct", color(i))
            continue
        start = (x_range[0], 0.0)
        end = (x_range[1], points[-1][1])
        chart.line([start, *points, end], color(i), f"{r.model} ({r.mode})", step=True)
    return chart.render()


def expected_vs_d(
    headline: Sequence[Summary], d_s: float, break_even: Mapping[str, float | None]
) -> str:
    finite = [d for d in break_even.values() if d]
    d_max_s = max(2 * d_s, 1.5 * max(finite, default=0.0), 60.0)
    minutes = d_max_s / 60
    ys = [r.expected_ttc_s(d_max_s) / 60 for r in headline]
    chart = Chart(
        "Expected time-to-correct as the cost of a wrong answer grows",
        "D: human time to fix a wrong answer (min)",
        "expected time-to-correct (min)",
        (0.0, minutes),
        (0.0, max(ys, default=1.0) * 1.05 or 1.0),
    )
    for i, r in enumerate(headline):
        chart.line(
            [(0.0, r.expected_ttc_s(0.0) / 60), (minutes, r.expected_ttc_s(d_max_s) / 60)],
            color(i),
            f"{r.model} ({r.mode})",
        )
    chart.vline(d_s / 60, "#6b7280", f"D = {fmt_seconds(d_s)}", label_row=len(break_even) + 1)
    by_model = {r.model: r for r in headline}
    for row, (model, d) in enumerate(break_even.items()):
        if d:
            chart.vline(d / 60, "#111827", f"break-even {model}: D = {fmt_seconds(d)}", row)
            chart.point(d / 60, by_model[model].expected_ttc_s(d) / 60, "#111827", radius=4)
    return chart.render()


def rejection_reasons(records: Sequence[AttemptRecord], top: int = 6) -> list[list[str]]:
    """The most common rejection reasons per model, numbers masked so alike reasons group."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in records:
        if not record.verdict.ok:
            reason = re.sub(r"\d+(\.\d+)?", "#", record.verdict.reason)[:120]
            counts[(record.model, reason)] += 1
    rows: list[list[str]] = []
    for model in dict.fromkeys(r.model for r in records):
        mine = [(reason, n) for (m, reason), n in counts.most_common() if m == model]
        rows.extend([model, reason, str(n)] for reason, n in mine[:top])
    return rows


def cost_vs_ttc(headline: Sequence[Summary]) -> str:
    """One dot per model: what a correct answer costs against how long it takes to get one."""
    rows = [r for r in headline if r.cost_per_correct_usd is not None and r.ttc_p50_ms is not None]
    if not rows:
        return ""
    xs = [(r.ttc_p50_ms or 0.0) / MS_PER_S for r in rows]
    ys = [r.cost_per_correct_usd or 0.0 for r in rows]
    chart = Chart(
        "Cost per correct answer vs time-to-correct",
        "median time-to-correct (s)",
        "USD per correct answer",
        (0.0, max(xs) * 1.25 or 1.0),
        (0.0, max(ys) * 1.25 or 1.0),
    )
    for i, r in enumerate(headline):
        if r in rows:
            chart.point((r.ttc_p50_ms or 0.0) / MS_PER_S, r.cost_per_correct_usd or 0.0,
                        color(i), radius=7)  # fmt: skip
            chart.legend_entry(f"{r.model} ({r.mode})", color(i))
    return chart.render()


def render_report(
    headline: Sequence[Summary],
    levels: Sequence[Summary],
    chains: Sequence[ChainResult],
    d_s: float,
    break_even: Mapping[str, float | None],
    settings: Mapping[str, Any],
    records: Sequence[AttemptRecord] = (),
    d_usd: float | None = None,
    judging: Mapping[str, str | None] | None = None,
) -> str:
    """The report; ``judging`` maps each suite of the run to how its verifier judges (and how
    strong it measured), or None where the suite does not say."""
    header, cells = table_rows(headline, d_s, d_usd)
    level_header, level_cells = table_rows(levels, d_s, d_usd)
    setting_cells = [[str(k), str(v)] for k, v in settings.items()]
    notes = "".join(f"<p>{escape(line)}</p>" for line in break_even_lines(headline, break_even))
    judge_cells = [
        [suite, how or "not stated by the suite"] for suite, how in (judging or {}).items()
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>ponder bench correct</title><style>{_CSS}</style></head>
<body>
<h1>ponder bench correct — time-to-correct</h1>
{_table(header, cells)}
{notes}
<div class="plots">
{ttfa_vs_pass(headline, levels)}
{ttc_cdf_chart(headline, chains)}
{expected_vs_d(headline, d_s, break_even)}
{cost_vs_ttc(headline)}
</div>
<h2>By suite and level</h2>
{_table(level_header, level_cells)}
<h2>Why answers were rejected</h2>
{_table(["model", "verifier's reason (numbers masked)", "attempts"], rejection_reasons(records))}
<h2>How answers are judged</h2>
<div class="note"><p>Time-to-correct is only as true as the verifier that says “correct”.
The mutation score is the share of deliberately broken reference answers the verifier
rejects.</p></div>
{_table(["suite", "verification method and measured mutation score"], judge_cells)}
<h2>Definitions</h2>
<div class="note">
<p><b>TTFA</b>: request sent → first answer token, over every attempt. <b>pass@1</b>: share of
tasks whose first attempt a verifier accepted; <b>pass@k</b>: accepted within k attempts (with
the <code>independent</code> retry policy, the unbiased estimator of Chen et al. 2021).
<b>TTC</b> (time-to-correct): E2E plus verification time of every attempt until one is
accepted; tasks never accepted are censored at the attempt budget, so a median shows “&gt; k tries”
when fewer than half were solved. <b>E[TTC]</b> = mean machine time per task + (1 − share
solved) · D, where D is what a person spends fixing a wrong answer; the break-even D is where
a slower, more accurate model starts to win. <b>$/correct</b>: everything a model's attempts
cost at its price (thought tokens included) divided by the tasks it got right; <b>E[$]</b> =
mean cost per task + (1 − share solved) · D$, with D$ what fixing a wrong answer costs.
Models without a price show “—”: their cost is unknown, not zero.</p>
</div>
<h2>Run</h2>
{_table(["setting", "value"], setting_cells)}
</body></html>
"""
