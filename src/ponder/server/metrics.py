"""Prometheus text exposition of the gateway's metrics, written by hand (no dependency).

Names follow the OpenTelemetry GenAI semantic conventions where they exist, translated to
Prometheus (dots to underscores, unit suffix):

* ``gen_ai_client_operation_duration_seconds`` — request duration (E2E);
* ``gen_ai_server_time_to_first_token_seconds`` — time to first token of any kind;
* ``gen_ai_client_token_usage`` — tokens per request, ``gen_ai_token_type`` of
  ``input``, ``reasoning`` or ``answer``;

plus ponder's own ``ponder_time_to_first_answer_token_seconds``,
``ponder_route_decisions_total{mode,reason}``, ``ponder_requests_total{model,mode,status}``
and ``ponder_rejected_requests_total{code}``; and the trace store's health:
``ponder_trace_store_up``, ``ponder_traces_queued``, ``ponder_traces_journal_pending``,
``ponder_traces_written_total``, ``ponder_traces_journaled_total``,
``ponder_traces_replayed_total``, ``ponder_traces_dropped_total`` and
``ponder_trace_store_failed_writes_total``.
Labels carry model names, modes, statuses and route reasons only — never request text or keys.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Sequence

from ponder.store.record import TraceRecord
from ponder.store.writer import WriterStats

LabelValues = tuple[str, ...]

DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
MAX_REASONS = 64  # distinct route-reason label values before the rest collapse to "other"
_DIGITS = re.compile(r"\d+(\.\d+)?")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: LabelValues, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    def __init__(self, name: str, help_: str, labelnames: Sequence[str]) -> None:
        self.name, self.help, self.labelnames = name, help_, tuple(labelnames)
        self._values: dict[LabelValues, float] = {}

    def inc(self, labels: LabelValues, amount: float = 1.0) -> None:
        self._values[labels] = self._values.get(labels, 0.0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.labelnames, labels)} {_num(value)}")
        return lines


class Histogram:
    def __init__(
        self, name: str, help_: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name, self.help, self.labelnames = name, help_, tuple(labelnames)
        self.buckets = tuple(buckets)
        # per label set: bucket counts (non-cumulative, last is +Inf), sum, count
        self._series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, labels: LabelValues, value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = ([0] * (len(self.buckets) + 1), [0.0, 0.0])
        series[0][bisect_left(self.buckets, value)] += 1
        series[1][0] += value
        series[1][1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, (counts, (total, count)) in sorted(self._series.items()):
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = f'le="{_num(bound)}"'
                lines.append(f"{self.name}_bucket{_labels(self.labelnames, labels, le)} {running}")
            lines.append(f"{self.name}_sum{_labels(self.labelnames, labels)} {_num(total)}")
            lines.append(f"{self.name}_count{_labels(self.labelnames, labels)} {_num(count)}")
        return lines


class GatewayMetrics:
    """Every metric ``/metrics`` exposes; :meth:`observe` takes one finished trace."""

    def __init__(self) -> None:
        model_labels = ("gen_ai_operation_name", "gen_ai_request_model", "gen_ai_response_model",
                        "ponder_mode")  # fmt: skip
        self.duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI operation duration (request sent to stream end).",
            (*model_labels, "error_type"),
            DURATION_BUCKETS,
        )
        self.ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time to the first token of any kind (thought or answer).",
            model_labels,
            DURATION_BUCKETS,
        )
        self.ttfa = Histogram(
            "ponder_time_to_first_answer_token_seconds",
            "Time to the first answer token (what the user waits for).",
            model_labels,
            DURATION_BUCKETS,
        )
        self.tokens = Histogram(
            "gen_ai_client_token_usage",
            "Tokens used per request, by type: input, reasoning or answer.",
            (*model_labels, "gen_ai_token_type"),
            TOKEN_BUCKETS,
        )
        self.routes = Counter(
            "ponder_route_decisions_total",
            "Routing decisions by chosen mode and one-line reason (digits folded to N).",
            ("mode", "reason"),
        )
        self.requests = Counter(
            "ponder_requests_total",
            "Chat requests by answering model, mode, how they ended and the front door they"
            " came in by (chat_completions, messages, responses).",
            ("model", "mode", "status", "door"),
        )
        self.rejected = Counter(
            "ponder_rejected_requests_total",
            "Requests refused before reaching a model (bad JSON, unknown model, auth, size).",
            ("code",),
        )
        self.cost = Counter(
            "ponder_cost_usd_total",
            "What requests cost in USD, by model, mode and part (input, thinking, answer);"
            " models without a price are not counted.",
            ("model", "mode", "part"),
        )
        self._reasons: set[str] = set()

    def _reason_label(self, reason: str) -> str:
        label = _DIGITS.sub("N", reason)[:160]
        if label in self._reasons:
            return label
        if len(self._reasons) >= MAX_REASONS:
            return "other"
        self._reasons.add(label)
        return label

    def observe(self, trace: TraceRecord) -> None:
        model = trace.model or "none"
        mode = trace.mode or "none"
        base = ("chat", trace.requested_model, model, mode)
        self.requests.inc((model, mode, trace.status, trace.door))
        for part, usd in (
            ("input", trace.cost_input_usd),
            ("thinking", trace.cost_thinking_usd),
            ("answer", trace.cost_answer_usd),
        ):
            if usd is not None:
                self.cost.inc((model, mode, part), usd)
        if trace.route_reason is not None:
            self.routes.inc((mode, self._reason_label(trace.route_reason)))
        if trace.finish_reason == "declined":
            return  # a canned reply: counted, but its zero timings say nothing about a model
        if trace.e2e_ms is not None:
            error = "" if trace.status == "ok" else (trace.error_code or trace.status)
            self.duration.observe((*base, error), trace.e2e_ms / 1000)
        if trace.ttft_ms is not None:
            self.ttft.observe(base, trace.ttft_ms / 1000)
        if trace.ttfa_ms is not None:
            self.ttfa.observe(base, trace.ttfa_ms / 1000)
        if trace.status == "ok":
            for kind, count in (
                ("input", trace.input_tokens),
                ("reasoning", trace.thinking_tokens),
                ("answer", trace.answer_tokens),
            ):
                if count is not None:
                    self.tokens.observe((*base, kind), count)

    def render(self, extra: Sequence[str] = ()) -> str:
        lines: list[str] = []
        for metric in (
            self.duration,
            self.ttft,
            self.ttfa,
            self.tokens,
            self.routes,
            self.requests,
            self.rejected,
            self.cost,
        ):
            lines.extend(metric.render())
        lines.extend(extra)
        return "\n".join(lines) + "\n"


_STORE_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("ponder_trace_store_up", "gauge", "up", "1 when the last write to the trace store succeeded."),
    ("ponder_traces_queued", "gauge", "queued", "Traces in memory waiting for the next batch."),
    ("ponder_traces_journal_pending", "gauge", "journaled_pending",
     "Traces in the local journal waiting for the store to answer."),
    ("ponder_traces_written_total", "counter", "written", "Traces written to the store."),
    ("ponder_traces_journaled_total", "counter", "journaled",
     "Traces spilled to the local journal (queue bound passed while the store lagged)."),
    ("ponder_traces_replayed_total", "counter", "replayed",
     "Journaled traces written once the store answered again."),
    ("ponder_traces_dropped_total", "counter", "dropped",
     "Traces lost: queue and journal full, or a trace the store refused (each is logged)."),
    ("ponder_trace_store_failed_writes_total", "counter", "failed_writes",
     "Batch writes the store refused or did not answer (retried)."),
)  # fmt: skip


def store_lines(stats: WriterStats) -> list[str]:
    """The trace writer's counters in Prometheus text."""
    lines = []
    for name, kind, field_name, help_ in _STORE_METRICS:
        value = getattr(stats, field_name)
        lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}", f"{name} {int(value)}"]
    return lines
