"""Per-step statistics over the measured (not warm-up) requests.

Per request the meter's metrics (DESIGN.md), plus **TPOT** (time per output token):
``(E2E − TTFT) / (output tokens − 1)`` over all output tokens, thoughts included — the
inverse of the meter's decode speed. Per step:

- p50/p90/p99 of TTFT, TTFA, thinking time, E2E, TPOT, and ITL (over every gap of every
  request, not a mean of per-request percentiles);
- **req/s**: successful requests / the step's window. The window is the span of the measured
  requests' starts plus one mean gap between starts, so N requests started at a steady rate
  λ give N / window = λ whether the step was cut by time or by count, and the drain at the
  end (requests still finishing after the last start) does not dilute the rate. With a
  single request, the window is its E2E;
- **output tok/s**, split into thinking and answer: tokens of successful requests / window;
- **goodput**: successful requests that met every SLO / window (and their share);
- **mean in flight**: Σ E2E / window (Little's law: the concurrency the server really saw).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ponder.bench.speed.runner import RequestRecord
from ponder.meter import Metrics, percentile

QUANTILES = (50, 90, 99)
SLO_METRICS = ("ttft", "ttfa", "e2e", "tpot", "itl")
TPOT_DEFINITION = (
    "TPOT = (E2E − TTFT) / (output tokens − 1), all output tokens (thoughts and answer):"
    " the inverse of decode speed"
)


class SLOError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_slo(text: str) -> dict[str, float]:
    """``ttfa=2000,e2e=30000`` → {"ttfa": 2000.0, "e2e": 30000.0} (milliseconds)."""
    slo: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower().removesuffix("_ms")
        if not sep or name not in SLO_METRICS:
            raise SLOError(f"bad SLO {item!r}: write METRIC=MS with METRIC one of"
                           f" {', '.join(SLO_METRICS)}, e.g. ttfa=2000,e2e=30000.")
        try:
            bound = float(value)
        except ValueError:
            raise SLOError(f"bad SLO {item!r}: {value.strip()!r} is not a number of ms.") from None
        if bound <= 0:
            raise SLOError(f"bad SLO {item!r}: the bound must be > 0 ms.")
        slo[name] = bound
    if not slo:
        raise SLOError("empty SLO: write METRIC=MS[,METRIC=MS...], e.g. ttfa=2000,e2e=30000.")
    return slo


def tpot_ms(metrics: Metrics) -> float | None:
    if metrics.e2e_ms is None or metrics.ttft_ms is None or metrics.output_tokens < 2:
        return None
    return (metrics.e2e_ms - metrics.ttft_ms) / (metrics.output_tokens - 1)


def request_value(metrics: Metrics, name: str) -> float | None:
    """A request's value of an SLO metric (ITL: the request's p99 gap)."""
    if name == "tpot":
        return tpot_ms(metrics)
    if name == "itl":
        return metrics.itl_p99_ms
    value = getattr(metrics, f"{name}_ms")
    return value if isinstance(value, float | int) else None


def meets(record: RequestRecord, slo: Mapping[str, float]) -> bool:
    """Succeeded, and every SLO metric is known and within its bound."""
    if record.outcome.error is not None:
        return False
    for name, bound in slo.items():
        value = request_value(record.outcome.metrics, name)
        if value is None or value > bound:
            return False
    return True


@dataclass(frozen=True, slots=True)
class StepSummary:
    step: int
    name: str
    kind: str
    value: float
    requests: int
    errors: int
    window_s: float
    req_per_s: float
    thinking_tok_per_s: float
    answer_tok_per_s: float
    goodput_req_per_s: float
    goodput_share: float
    mean_in_flight: float
    tokens_estimated: bool
    quantiles: dict[str, dict[int, float | None]] = field(default_factory=dict)

    @property
    def output_tok_per_s(self) -> float:
        return self.thinking_tok_per_s + self.answer_tok_per_s

    def q(self, metric: str, quantile: int) -> float | None:
        return self.quantiles.get(metric, {}).get(quantile)


def summarise(
    step: int, name: str, kind: str, value: float, records: Sequence[RequestRecord],
    slo: Mapping[str, float],
) -> StepSummary:
    measured = [r for r in records if not r.warmup]
    ok = [r for r in measured if r.outcome.error is None]
    window = 0.0
    if len(measured) > 1:
        span = max(r.started_s for r in measured) - min(r.started_s for r in measured)
        window = span * len(measured) / (len(measured) - 1)
    if measured and window <= 0:
        window = max((measured[0].outcome.metrics.e2e_ms or 0.0) / 1000, 1e-9)
    series: dict[str, list[float]] = {m: [] for m in ("ttft", "ttfa", "thinking", "e2e", "tpot")}
    gaps: list[float] = []
    thinking_tokens = answer_tokens = 0
    for record in ok:
        m = record.outcome.metrics
        for metric, val in (("ttft", m.ttft_ms), ("ttfa", m.ttfa_ms), ("e2e", m.e2e_ms),
                            ("thinking", m.thinking_ms), ("tpot", tpot_ms(m))):
            if val is not None:
                series[metric].append(val)
        gaps.extend(record.outcome.itl_ms)
        thinking_tokens += m.thinking_tokens
        answer_tokens += m.answer_tokens
    series["itl"] = gaps
    good = sum(1 for r in ok if meets(r, slo))
    busy = sum((r.outcome.metrics.e2e_ms or 0.0) / 1000 for r in measured)
    rate = (lambda n: n / window) if window else (lambda n: 0.0)
    return StepSummary(
        step=step,
        name=name,
        kind=kind,
        value=value,
        requests=len(measured),
        errors=len(measured) - len(ok),
        window_s=window,
        req_per_s=rate(len(ok)),
        thinking_tok_per_s=rate(thinking_tokens),
        answer_tok_per_s=rate(answer_tokens),
        goodput_req_per_s=rate(good),
        goodput_share=good / len(measured) if measured else 0.0,
        mean_in_flight=busy / window if window else 0.0,
        tokens_estimated=any(r.outcome.metrics.tokens_estimated for r in ok),
        quantiles={m: {q: percentile(v, q) for q in QUANTILES} for m, v in series.items()},
    )


def knee(rows: Sequence[StepSummary]) -> StepSummary | None:
    """The step with the most goodput: past it, more load buys no more good requests."""
    candidates = [r for r in rows if r.requests]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.goodput_req_per_s, -r.req_per_s))
