"""Plain-text headline table and CSV summary (the HTML report is :mod:`ponder.bench.report`)."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

from ponder.bench.stats import MS_PER_S, Summary
from ponder.pricing import format_usd

CSV_FIELDS = (
    "model",
    "mode",
    "suite",
    "level",
    "tasks",
    "attempts",
    "k",
    "retry_policy",
    "pass_at_1",
    "pass_at_k",
    "ttfa_p50_ms",
    "ttfa_p90_ms",
    "ttc_p50_s",
    "ttc_p90_s",
    "first_e2e_mean_s",
    "spent_mean_s",
    "D_s",
    "expected_ttc_s",
    "expected_ttc_1shot_s",
    "break_even_D_s",
    "cost_per_attempt_usd",
    "cost_per_task_usd",
    "cost_per_correct_usd",
    "D_usd",
    "expected_cost_usd",
    "break_even_D_usd",
    "tokens_mean",
    "cancelled_tokens_mean",
    "served_by",
)


def fmt_seconds(seconds: float | None, censored: str = "—") -> str:
    if seconds is None:
        return censored
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _ms(value: float | None) -> float | None:
    return None if value is None else value / MS_PER_S


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_csv(
    path: Path,
    rows: Sequence[Summary],
    d_s: float,
    break_even: Mapping[str, float | None],
    d_usd: float | None = None,
    break_even_usd: Mapping[str, float | None] | None = None,
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_FIELDS)
        for row in rows:
            overall = row.suite == "all" and row.level == "all"
            be = break_even.get(row.model) if overall else None
            be_usd = (break_even_usd or {}).get(row.model) if overall else None
            expected_usd = row.expected_cost_usd(d_usd) if d_usd is not None else None
            writer.writerow(
                [
                    row.model,
                    row.mode,
                    row.suite,
                    row.level,
                    row.tasks,
                    row.attempts,
                    row.k,
                    row.policy,
                    _num(row.pass_at_1),
                    _num(row.pass_at_k),
                    _num(row.ttfa_p50_ms, 1),
                    _num(row.ttfa_p90_ms, 1),
                    _num(_ms(row.ttc_p50_ms), 3),
                    _num(_ms(row.ttc_p90_ms), 3),
                    _num(row.first_e2e_mean_ms / MS_PER_S, 3),
                    _num(row.spent_mean_ms / MS_PER_S, 3),
                    _num(d_s, 1),
                    _num(row.expected_ttc_s(d_s), 3),
                    _num(row.expected_ttc_1shot_s(d_s), 3),
                    _num(be, 3),
                    _num(row.cost_per_attempt_usd, 8),
                    _num(row.cost_per_task_usd, 8),
                    _num(row.cost_per_correct_usd, 8),
                    _num(d_usd, 2),
                    _num(expected_usd, 6),
                    _num(be_usd, 6),
                    _num(row.tokens_mean, 1),
                    _num(row.cancelled_tokens_mean, 1),
                    served_text(row),
                ]
            )


def served_text(row: Summary) -> str:
    """``fast 62%, deep 38%``: which model answered a wrapper's (the hedge's) attempts."""
    return ", ".join(f"{name} {share:.0%}" for name, share in row.served_by)


def table_rows(
    rows: Sequence[Summary], d_s: float, d_usd: float | None = None
) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the headline table (shared by stdout and the HTML report). The
    cost columns appear when some model has a price (the embedded one is free)."""
    k = max((r.k for r in rows), default=1)
    costs = any(r.cost_per_task_usd is not None for r in rows)
    hedged = any(r.served_by for r in rows)
    header = ["model", "mode", "tasks", "pass@1"]
    if k > 1:
        header.append(f"pass@{k}")
    header += ["TTFA p50", "TTFA p90", "TTC p50", f"E[TTC] @ D={fmt_seconds(d_s)}"]
    header.append("tokens/task")
    if hedged:
        header += ["of which cancelled", "served by"]
    if costs:
        header.append("$/correct")
        if d_usd is not None:
            header.append(f"E[$] @ D={format_usd(d_usd)}")
    cells = []
    for r in rows:
        never = f"> {r.k} tries" if r.k > 1 else "never"
        row = [
            r.model if r.suite == "all" else f"{r.model} {r.suite} L{r.level}",
            r.mode,
            str(r.tasks),
            f"{r.pass_at_1:.2f}",
        ]
        if k > 1:
            row.append(f"{r.pass_at_k:.2f}")
        row += [
            fmt_seconds(_ms(r.ttfa_p50_ms)),
            fmt_seconds(_ms(r.ttfa_p90_ms)),
            fmt_seconds(_ms(r.ttc_p50_ms), censored=never),
            fmt_seconds(r.expected_ttc_s(d_s)),
        ]
        row.append(f"{r.tokens_mean:.0f}")
        if hedged:
            row += [f"{r.cancelled_tokens_mean:.0f}", served_text(r) or "—"]
        if costs:
            row.append(format_usd(r.cost_per_correct_usd) if r.solved else "never")
            if d_usd is not None:
                row.append(format_usd(r.expected_cost_usd(d_usd)))
        cells.append(row)
    return header, cells


def render_table(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def break_even_lines(rows: Sequence[Summary], break_even: Mapping[str, float | None]) -> list[str]:
    if not rows:
        return []
    fastest = min(rows, key=lambda r: r.spent_mean_ms)
    lines = []
    for model, d in break_even.items():
        if d is None:
            lines.append(
                f"break-even: {model} never beats {fastest.model}: it is no more accurate, and"
                f" {fastest.model} spends less machine time per task (tries included)."
            )
        elif d == 0:
            lines.append(f"break-even: {model} beats {fastest.model} at any D.")
        else:
            lines.append(
                f"break-even: {model} beats {fastest.model} once a wrong answer costs more than"
                f" {fmt_seconds(d)} of human time (D)."
            )
    return lines


def break_even_usd_lines(
    rows: Sequence[Summary], break_even: Mapping[str, float | None]
) -> list[str]:
    priced = [r for r in rows if r.cost_per_task_usd is not None]
    if not priced or not break_even:
        return []
    cheapest = min(priced, key=lambda r: r.cost_per_task_usd or 0.0)
    lines = []
    for model, d in break_even.items():
        if d is None:
            lines.append(
                f"break-even in money: {model} never beats {cheapest.model}: no more accurate"
                " and dearer per task."
            )
        elif d == 0:
            lines.append(f"break-even in money: {model} beats {cheapest.model} at any D$.")
        else:
            lines.append(
                f"break-even in money: {model} beats {cheapest.model} once a wrong answer costs"
                f" more than {format_usd(d)} to fix (D$)."
            )
    return lines


def headline_text(
    rows: Sequence[Summary],
    d_s: float,
    break_even: Mapping[str, float | None],
    d_usd: float | None = None,
    break_even_usd: Mapping[str, float | None] | None = None,
) -> str:
    header, cells = table_rows(rows, d_s, d_usd)
    return "\n".join(
        [
            render_table(header, cells),
            *break_even_lines(rows, break_even),
            *break_even_usd_lines(rows, break_even_usd or {}),
        ]
    )
