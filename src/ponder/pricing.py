"""What a request costs: prices per model, and the cost of a usage, split by part.

Prices come from ``ponder.toml`` (``price = { input = 0.60, output = 2.50, cached_input =
0.15 }``, USD per million tokens; thought tokens cost ``output`` unless ``reasoning`` is set).
A model without a price has an *unknown* cost — ``None`` everywhere, never 0 — except models
that run in this process (the embedded one), which cost nothing and say so.

A cost is estimated (``Cost.estimated``) when any token count behind it was estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ponder.config import FREE, ModelConfig, Price
from ponder.errors import PonderError
from ponder.events import Usage

PER_MILLION = 1_000_000




@dataclass(frozen=True, slots=True)
class Cost:
    input_usd: float
    thinking_usd: float
    answer_usd: float
    estimated: bool

    @property
    def total_usd(self) -> float:
        return self.input_usd + self.thinking_usd + self.answer_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_usd": self.input_usd,
            "thinking_usd": self.thinking_usd,
            "answer_usd": self.answer_usd,
            "total_usd": self.total_usd,
            "estimated": self.estimated,
        }


def price_for(model: ModelConfig) -> Price | None:
    """The model's price: from its config, free for in-process models, else unknown."""
    if model.price is not None:
        return model.price
    from ponder.registry import provider_class  # late: the registry imports providers

    try:
        runs_here = provider_class(model.provider).runs_in_process
    except PonderError:
        return None
    return FREE if runs_here else None


def cost_of(price: Price | None, usage: Usage, input_estimate: int | None = None) -> Cost | None:
    """The cost of ``usage`` at ``price`` (None when the price is unknown). Without a
    reported input count, ``input_estimate`` is used and the cost is marked estimated."""
    if price is None:
        return None
    estimated = usage.estimated
    input_tokens = usage.input_tokens
    if input_tokens is None:
        input_tokens = input_estimate or 0
        estimated = estimated or input_estimate is not None
    cached = min(usage.cached_input_tokens or 0, input_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    reasoning_rate = price.output if price.reasoning is None else price.reasoning
    return Cost(
        input_usd=((input_tokens - cached) * price.input + cached * cached_rate) / PER_MILLION,
        thinking_usd=usage.thinking_tokens * reasoning_rate / PER_MILLION,
        answer_usd=usage.answer_tokens * price.output / PER_MILLION,
        estimated=estimated,
    )


def format_usd(value: float | None) -> str:
    """``$0.0042``; ``—`` when unknown; ``free`` for exactly nothing."""
    if value is None:
        return "—"
    if value == 0:
        return "free"
    if value >= 1:
        return f"${value:,.2f}"
    if value >= 0.01:
        return f"${value:.3f}"
    return f"${value:.2g}" if value < 0.0001 else f"${value:.4f}"
