"""What the policies say about themselves: Prometheus lines for ``/metrics`` and the
one-line summaries ``ponder models`` prints."""

from __future__ import annotations

from ponder.config import ModelConfig
from ponder.policies.breaker import STATE_VALUES
from ponder.policies.stack import PolicyStack


def prometheus_lines(stack: PolicyStack) -> list[str]:
    breakers = stack.breakers()
    lines = [
        "# HELP ponder_circuit_breaker_state Circuit breaker per upstream model:"
        " 0 closed, 1 open, 2 half-open.",
        "# TYPE ponder_circuit_breaker_state gauge",
    ]
    lines += [
        f'ponder_circuit_breaker_state{{model="{n}"}} {STATE_VALUES[b.state]}'
        for n, b in breakers.items()
    ]
    lines += [
        "# HELP ponder_circuit_breaker_opened_total Times each breaker opened.",
        "# TYPE ponder_circuit_breaker_opened_total counter",
    ]
    lines += [f'ponder_circuit_breaker_opened_total{{model="{n}"}} {b.opened}'
              for n, b in breakers.items()]  # fmt: skip
    lines += [
        "# HELP ponder_retries_total Attempts after the first, per upstream model.",
        "# TYPE ponder_retries_total counter",
    ]
    for name, upstream in sorted(stack.upstreams.items()):
        if upstream.retry is not None:
            lines.append(f'ponder_retries_total{{model="{name}"}} {upstream.retry.retried}')
    lines += [
        "# HELP ponder_fallbacks_total Requests for a model served by one of its fallbacks.",
        "# TYPE ponder_fallbacks_total counter",
    ]
    for name, chain in sorted(stack.fallbacks.items()):
        for served, count in sorted(chain.served.items()):
            lines.append(f'ponder_fallbacks_total{{model="{name}",served_by="{served}"}} {count}')
    return lines


def summary(model: ModelConfig) -> list[tuple[str, str]]:
    """(policy, what it does) for one model, defaults included."""
    p = model.policies
    return [
        ("retries", p.retries.describe()),
        ("timeouts", p.timeouts.describe() or "off"),
        ("fallbacks", " → ".join(p.fallbacks) or "none"),
        ("breaker", p.breaker.describe()),
    ]
